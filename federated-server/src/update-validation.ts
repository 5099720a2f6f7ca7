/**
 * Validation of an uploaded update before it is accepted: the file is a well-formed safetensors,
 * its tensors are exactly the task's (names, shapes, F32), every value is finite, its distance
 * from the round's global adapter is within the task's norm bound, and its metadata names a
 * positive example count and the right round. The tensor list is checked on the header alone by
 * the shared adapter codec (src/protocol/adapter-codec.ts); the data is then read in slices
 * (O(chunk) memory).
 */
import { adapterProblem, checkAdapterHeader } from '../../src/protocol/adapter-codec.ts';
import { UPDATE_META } from '../../src/protocol/schemas.ts';
import { SafetensorsError } from '../../src/protocol/errors.ts';
import type { TensorSpec } from '../../src/protocol/lora.ts';
import type { Tensors } from './aggregation/strategies.ts';
import { squaredDistance } from './aggregation/math.ts';
import { openSafetensors } from './adapter-files.ts';
import { UpdateRejectedError } from './errors.ts';

export interface ValidatedUpdate {
  numExamples: number;
  trainLoss: number | null;
  evalLoss: number | null;
  norm: number;
}

const SLICE = 262_144;

/** The rejection for an adapter codec header problem (count, missing: WRONG_TENSORS); others unchanged. */
function headerRejection(err: unknown): unknown {
  const p = adapterProblem(err);
  if (!p) return err;
  const message = (err as Error).message;
  switch (p.kind) {
    case 'dtype':
      return new UpdateRejectedError(message, 'WRONG_DTYPE');
    case 'shape':
      return new UpdateRejectedError(message, 'WRONG_SHAPE');
    default:
      return new UpdateRejectedError(message, 'WRONG_TENSORS');
  }
}

function optionalNumber(meta: Record<string, string>, key: string): number | null {
  const v = meta[key];
  if (v === undefined) return null;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n))
    throw new UpdateRejectedError(`metadata ${key} is not a finite number`, 'BAD_METADATA');
  return n;
}

/**
 * @throws {UpdateRejectedError} with code BAD_SAFETENSORS, WRONG_TENSORS, WRONG_SHAPE, WRONG_DTYPE,
 * NON_FINITE, NORM_EXCEEDED, BAD_METADATA or WRONG_ROUND.
 */
export async function validateUpdateFile(
  path: string,
  expected: ReadonlyArray<TensorSpec>,
  global: Tensors,
  opts: { round: number; maxNorm: number },
): Promise<ValidatedUpdate> {
  let file;
  try {
    file = await openSafetensors(path, 1024 * 1024);
  } catch (err) {
    if (err instanceof SafetensorsError) throw new UpdateRejectedError(err.message, 'BAD_SAFETENSORS', 400);
    throw err;
  }
  try {
    const { metadata, tensors } = file.header;
    const examples = Number(metadata[UPDATE_META.numExamples]);
    if (!Number.isSafeInteger(examples) || examples < 1 || examples > 1e9) {
      throw new UpdateRejectedError(
        `metadata ${UPDATE_META.numExamples} must be a positive integer`,
        'BAD_METADATA',
      );
    }
    const round = metadata[UPDATE_META.round];
    if (round !== undefined && Number(round) !== opts.round) {
      throw new UpdateRejectedError(`update is for round ${round}, not ${opts.round}`, 'WRONG_ROUND', 409);
    }
    const trainLoss = optionalNumber(metadata, UPDATE_META.trainLoss);
    const evalLoss = optionalNumber(metadata, UPDATE_META.evalLoss);
    try {
      checkAdapterHeader(tensors, { specs: expected, dtype: 'F32' });
    } catch (err) {
      throw headerRejection(err);
    }
    let sq = 0;
    for (const spec of expected) {
      const g = global.get(spec.name)!;
      for (let start = 0; start < g.length; start += SLICE) {
        const count = Math.min(SLICE, g.length - start);
        const x = await file.readSlice(spec.name, start, count);
        for (let i = 0; i < x.length; i++) {
          if (!Number.isFinite(x[i]!))
            throw new UpdateRejectedError(`tensor ${spec.name} has a non-finite value`, 'NON_FINITE');
        }
        sq += squaredDistance(x, g.subarray(start, start + count));
      }
    }
    const norm = Math.sqrt(sq);
    if (!(norm <= opts.maxNorm)) {
      throw new UpdateRejectedError(
        `update norm ${norm.toPrecision(4)} exceeds the bound ${opts.maxNorm}`,
        'NORM_EXCEEDED',
      );
    }
    return { numExamples: examples, trainLoss, evalLoss, norm };
  } finally {
    await file.close();
  }
}
