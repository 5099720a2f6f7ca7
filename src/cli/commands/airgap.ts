/**
 * `dure airgap …` — taking part in a secure round across a network separation (망연계) with one
 * small file per phase (src/protocol/airgap.ts).
 *
 * On the separated (hospital) side, never touching the network:
 *   init --state DIR --server-key KEY         a new institution key in an encrypted vault; prints its public key
 *   step --state DIR --in VIEW --out FILE     the next phase of the round from the server's signed view
 *        [--adapter ADAPTER --update UPDATE]  (the first step of a round also takes the global adapter and the update)
 *   resend --state DIR --task T --round N --out FILE   the round's last message again (a file lost in transfer)
 *   adapter-verify --server-key KEY --in ADAPTER --out FILE   checks a global adapter file, writes the safetensors
 * On the connected (operator) side, as a named admin (DURE_ADMIN_TOKEN):
 *   import --server URL FILE…                 feeds institution messages through the server's signed routes
 *   export --server URL --task T --institution I [--round N] --out FILE
 *   adapter-export --server URL --task T --version V --out FILE
 *   server-key --server URL                   the key institutions pin
 *
 * The vault's passphrase comes from DURE_AIRGAP_PASSPHRASE (never a flag: shell history keeps flags).
 */
import { chmod, mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  airgapStep,
  lastAirgapMessage,
  newAirgapVault,
  type AirgapVaultContents,
} from '../../fl/airgap-institution.ts';
import { createVault, DEFAULT_KDF_ITERATIONS, openVault } from '../../fl/airgap-vault.ts';
import { MAX_AIRGAP_FILE_BYTES, openGlobalAdapter, openInstitutionMessage } from '../../protocol/airgap.ts';
import { readSafetensors } from '../../protocol/safetensors.ts';
import {
  AirgapFileError,
  type AirgapFileCode,
  CliArgsError,
  DureError,
  FileOpenError,
  ServerRefusedError,
} from '../../protocol/errors.ts';
import { reportError, parseCliArgs } from '../args.ts';
import { toArgsError } from './tokenize.ts';

const VAULT_FILE = 'vault.json';

const HELP = `dure airgap — 망연계(망분리) 기관의 보안 라운드 참여 / secure rounds across a network separation

기관(분리망) / institution (separated network):
  init --state DIR --server-key KEY
  step --state DIR --in VIEW.json --out MESSAGE.json [--adapter ADAPTER.json --update UPDATE.safetensors]
  resend --state DIR --task T --round N --out MESSAGE.json
  adapter-verify --server-key KEY --in ADAPTER.json --out ADAPTER.safetensors
운영자(연결망) / operator (connected network, DURE_ADMIN_TOKEN):
  import --server URL MESSAGE.json…
  export --server URL --task T --institution I [--round N] --out VIEW.json
  adapter-export --server URL --task T --version V --out ADAPTER.json
  server-key --server URL

금고 암호는 DURE_AIRGAP_PASSPHRASE 환경 변수로 줍니다. / The vault passphrase is read from DURE_AIRGAP_PASSPHRASE.
`;

/** Bounded read of a file carried across the separation. */
async function readCarried(path: string): Promise<Uint8Array> {
  try {
    const st = await stat(path);
    if (!st.isFile()) throw new FileOpenError(`${path} is not a regular file`);
    if (st.size > MAX_AIRGAP_FILE_BYTES)
      throw new AirgapFileError(
        `${path} has ${st.size} bytes, at most ${MAX_AIRGAP_FILE_BYTES}`,
        'AIRGAP_TOO_LARGE',
      );
    return new Uint8Array(await readFile(path));
  } catch (e) {
    if (e instanceof DureError) throw e;
    throw new FileOpenError(`cannot read ${path}: ${(e as { code?: string }).code ?? 'unknown error'}`, {
      cause: e,
    });
  }
}

/** Writes a file whole (temp + rename), readable by its owner only. */
async function writePrivate(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, data, { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, path);
}

function passphrase(): string {
  const p = process.env['DURE_AIRGAP_PASSPHRASE'];
  if (!p) throw new CliArgsError('set DURE_AIRGAP_PASSPHRASE to the vault passphrase');
  return p;
}

function required(values: Record<string, unknown>, ...names: string[]): void {
  for (const n of names)
    if (values[n] === undefined || values[n] === '') throw new CliArgsError(`--${n} is required`);
}

// ── institution side ────────────────────────────────────────────────────────────────────────

async function init(argv: string[]): Promise<number> {
  const { values } = parseCliArgs({
    args: argv,
    options: { state: { type: 'string' }, 'server-key': { type: 'string' } },
  });
  required(values, 'state', 'server-key');
  const dir = values.state!;
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  const file = join(dir, VAULT_FILE);
  if (await stat(file).catch(() => null)) throw new CliArgsError(`${file} already exists`);
  const iterations = Number(process.env['DURE_AIRGAP_KDF_ITERATIONS'] ?? DEFAULT_KDF_ITERATIONS);
  const contents = await newAirgapVault(values['server-key']!);
  const vault = await createVault(contents, passphrase(), iterations);
  await writePrivate(file, await vault.seal(contents));
  process.stdout.write(`${JSON.stringify({ publicKey: contents.identity.publicKey })}\n`);
  return 0;
}

async function step(argv: string[]): Promise<number> {
  const { values } = parseCliArgs({
    args: argv,
    options: {
      state: { type: 'string' },
      in: { type: 'string' },
      out: { type: 'string' },
      adapter: { type: 'string' },
      update: { type: 'string' },
    },
  });
  required(values, 'state', 'in', 'out');
  const file = join(values.state!, VAULT_FILE);
  const vault = await openVault<AirgapVaultContents>(
    new TextDecoder().decode(await readCarried(file)),
    passphrase(),
  );
  const update = values.update
    ? [...readSafetensors(await readCarried(values.update)).tensors.values()]
    : undefined;
  const result = await airgapStep(vault.contents, {
    viewFile: await readCarried(values.in!),
    ...(values.adapter ? { adapterFile: await readCarried(values.adapter) } : {}),
    ...(update ? { update } : {}),
  });
  // The vault first: a message is only ever written for a state already kept.
  await writePrivate(file, await vault.seal(vault.contents));
  if (result.status === 'sent') await writePrivate(values.out!, result.message);
  const { message: _omit, ...summary } = result as typeof result & { message?: string };
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  return 0;
}

async function resend(argv: string[]): Promise<number> {
  const { values } = parseCliArgs({
    args: argv,
    options: {
      state: { type: 'string' },
      task: { type: 'string' },
      round: { type: 'string' },
      out: { type: 'string' },
    },
  });
  required(values, 'state', 'task', 'round', 'out');
  const vault = await openVault<AirgapVaultContents>(
    new TextDecoder().decode(await readCarried(join(values.state!, VAULT_FILE))),
    passphrase(),
  );
  await writePrivate(values.out!, lastAirgapMessage(vault.contents, values.task!, Number(values.round)));
  return 0;
}

async function adapterVerify(argv: string[]): Promise<number> {
  const { values } = parseCliArgs({
    args: argv,
    options: {
      'server-key': { type: 'string' },
      in: { type: 'string' },
      out: { type: 'string' },
      task: { type: 'string' },
    },
  });
  required(values, 'server-key', 'in', 'out');
  const a = await openGlobalAdapter(await readCarried(values.in!), values['server-key']!, {
    ...(values.task ? { taskId: values.task } : {}),
  });
  await writePrivate(values.out!, a.bytes);
  process.stdout.write(`${JSON.stringify({ taskId: a.taskId, version: a.version, sha256: a.sha256 })}\n`);
  return 0;
}

// ── operator side ───────────────────────────────────────────────────────────────────────────

async function call(server: string, method: string, path: string, body?: string): Promise<Response> {
  const token = process.env['DURE_ADMIN_TOKEN'];
  if (!token) throw new CliArgsError('set DURE_ADMIN_TOKEN to your named admin token');
  const res = await fetch(new URL(path, server), {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body } : {}),
  });
  if (res.status === 200) return res;
  const text = await res.text();
  let code = 'UNKNOWN';
  let message = text.slice(0, 500);
  try {
    const e = (JSON.parse(text) as { error?: { code?: string; message?: string } }).error;
    code = e?.code ?? code;
    message = e?.message ?? message;
  } catch {
    // not JSON: keep the text
  }
  if (code.startsWith('AIRGAP_')) throw new AirgapFileError(message, code as AirgapFileCode);
  throw new ServerRefusedError(`${method} ${path} → ${res.status} ${code}: ${message}`, res.status, code);
}

async function importFiles(argv: string[]): Promise<number> {
  const { values, positionals } = parseCliArgs({
    args: argv,
    options: { server: { type: 'string' } },
    allowPositionals: true,
  });
  required(values, 'server');
  if (positionals.length === 0) throw new CliArgsError('name at least one message file');
  for (const path of positionals) {
    const bytes = await readCarried(path);
    await openInstitutionMessage(bytes); // refuses a truncated or altered file before it is sent
    const res = await call(
      values.server!,
      'POST',
      '/v1/admin/airgap/import',
      new TextDecoder().decode(bytes),
    );
    process.stdout.write(`${JSON.stringify({ file: path, ...((await res.json()) as object) })}\n`);
  }
  return 0;
}

async function exportView(argv: string[]): Promise<number> {
  const { values } = parseCliArgs({
    args: argv,
    options: {
      server: { type: 'string' },
      task: { type: 'string' },
      institution: { type: 'string' },
      round: { type: 'string' },
      out: { type: 'string' },
    },
  });
  required(values, 'server', 'task', 'institution', 'out');
  const q = new URLSearchParams({ taskId: values.task!, institutionId: values.institution! });
  if (values.round) q.set('round', values.round);
  const res = await call(values.server!, 'GET', `/v1/admin/airgap/export?${q}`);
  await writePrivate(values.out!, await res.text());
  return 0;
}

async function exportAdapter(argv: string[]): Promise<number> {
  const { values } = parseCliArgs({
    args: argv,
    options: {
      server: { type: 'string' },
      task: { type: 'string' },
      version: { type: 'string' },
      out: { type: 'string' },
    },
  });
  required(values, 'server', 'task', 'version', 'out');
  const res = await call(
    values.server!,
    'GET',
    `/v1/admin/airgap/adapters/${encodeURIComponent(values.task!)}/${encodeURIComponent(values.version!)}`,
  );
  await writePrivate(values.out!, await res.text());
  return 0;
}

async function serverKey(argv: string[]): Promise<number> {
  const { values } = parseCliArgs({ args: argv, options: { server: { type: 'string' } } });
  required(values, 'server');
  const res = await fetch(new URL('/v1/server-key', values.server!));
  if (res.status !== 200) throw new ServerRefusedError(`GET /v1/server-key: ${res.status}`, res.status);
  process.stdout.write(`${await res.text()}\n`);
  return 0;
}

const SUBCOMMANDS: Record<string, (argv: string[]) => Promise<number>> = {
  init,
  step,
  resend,
  'adapter-verify': adapterVerify,
  import: importFiles,
  export: exportView,
  'adapter-export': exportAdapter,
  'server-key': serverKey,
};

export async function run(argv: string[]): Promise<number> {
  try {
    const [sub, ...rest] = argv;
    if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
      process.stdout.write(HELP);
      return sub === undefined ? 2 : 0;
    }
    const f = Object.hasOwn(SUBCOMMANDS, sub) ? SUBCOMMANDS[sub] : undefined;
    if (!f) throw new CliArgsError(`unknown airgap command ${JSON.stringify(sub)}; see "dure airgap --help"`);
    return await f(rest);
  } catch (e) {
    return reportError(toArgsError(e));
  }
}
