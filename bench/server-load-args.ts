/**
 * Command line of bench/server-load.ts, parsed and checked on its own so a typo fails before a
 * PostgreSQL and three servers are started.
 */
import { parseCliArgs } from '../src/cli/args.ts';

/** Real model shapes (config.json of each): layers, hidden size, and k/v width (KV heads × head dim). */
export const MODEL_SHAPES = {
  'qwen2.5-0.5b': { model: 'Qwen/Qwen2.5-0.5B-Instruct', layers: 24, hidden: 896, kv: 128 },
  'qwen2.5-1.5b': { model: 'Qwen/Qwen2.5-1.5B-Instruct', layers: 28, hidden: 1536, kv: 256 },
} as const;
export type ShapeName = keyof typeof MODEL_SHAPES;

export interface ServerLoadArgs {
  institutions: number;
  rounds: number;
  /** Server processes; 1 without --postgres runs one server on PGlite (the `npm run bench` default). */
  replicas: number;
  postgres: boolean;
  killLeader: boolean;
  shape: ShapeName;
  /** Layers of the shape actually used (fewer than the model's to keep a run short). */
  layers: number;
  rank: number;
  /** Institutions building and uploading at once (the bench's own memory: this × one update). */
  concurrency: number;
  maxSeconds: number;
}

/**
 * @throws {Error} naming the bad option.
 */
export function parseServerLoadArgs(argv: string[]): ServerLoadArgs {
  const { values: v } = parseCliArgs({
    args: argv,
    options: {
      institutions: { type: 'string' },
      clients: { type: 'string' }, // the older name of --institutions
      rounds: { type: 'string', default: '1' },
      replicas: { type: 'string', default: '1' },
      postgres: { type: 'boolean', default: false },
      'kill-leader': { type: 'boolean', default: false },
      shape: { type: 'string', default: 'qwen2.5-1.5b' },
      layers: { type: 'string' },
      rank: { type: 'string', default: '16' },
      concurrency: { type: 'string', default: '8' },
      'max-seconds': { type: 'string', default: '900' },
    },
    strict: true,
  });
  const whole = (name: string, raw: string | undefined, min: number): number => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be a whole number ≥ ${min}`);
    return n;
  };
  if (!(v.shape! in MODEL_SHAPES))
    throw new Error(`--shape must be one of ${Object.keys(MODEL_SHAPES).join(', ')}`);
  const shape = v.shape as ShapeName;
  const replicas = whole('replicas', v.replicas, 1);
  const killLeader = v['kill-leader']!;
  // A killed leader needs another process to take over, and replicas need a shared database.
  if (killLeader && replicas < 2) throw new Error('--kill-leader needs --replicas ≥ 2');
  const layers = whole('layers', v.layers ?? String(MODEL_SHAPES[shape].layers), 1);
  if (layers > MODEL_SHAPES[shape].layers)
    throw new Error(`--layers must be ≤ ${MODEL_SHAPES[shape].layers} for ${shape}`);
  return {
    // A round aggregates at least two updates (the server refuses a smaller minimum cohort).
    institutions: whole('institutions', v.institutions ?? v.clients ?? '100', 2),
    rounds: whole('rounds', v.rounds, 1),
    replicas,
    postgres: v.postgres! || replicas > 1,
    killLeader,
    shape,
    layers,
    rank: whole('rank', v.rank, 1),
    concurrency: whole('concurrency', v.concurrency, 1),
    maxSeconds: whole('max-seconds', v['max-seconds'], 1),
  };
}
