/**
 * Test support: serialises a metadata map into a GGUF v3 file with no tensors, enough for
 * llama.cpp to load the vocabulary (`vocabOnly`) so the tokenizer can be compared with it.
 * Only the value types tokenizer metadata uses are written.
 */
import { GgufValueType, type GgufKv } from '../gguf/types.ts';

const enc = new TextEncoder();

class ByteSink {
  private chunks: Uint8Array[] = [];
  private size = 0;
  bytes(b: Uint8Array): void {
    this.chunks.push(b);
    this.size += b.length;
  }
  u32(v: number): void {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v, true);
    this.bytes(b);
  }
  u64(v: number): void {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt(v), true);
    this.bytes(b);
  }
  str(s: string): void {
    const b = enc.encode(s);
    this.u64(b.length);
    this.bytes(b);
  }
  typed(arr: ArrayBufferView): void {
    this.bytes(new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength).slice());
  }
  get length(): number {
    return this.size;
  }
  finish(): Uint8Array {
    const out = new Uint8Array(this.size);
    let o = 0;
    for (const c of this.chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  }
}

function scalar(sink: ByteSink, type: GgufValueType, v: unknown): void {
  switch (type) {
    case GgufValueType.STRING:
      sink.str(String(v));
      return;
    case GgufValueType.UINT32:
    case GgufValueType.INT32:
      sink.u32(Number(v) >>> 0);
      return;
    case GgufValueType.BOOL:
      sink.bytes(Uint8Array.of(v ? 1 : 0));
      return;
    case GgufValueType.FLOAT32: {
      const b = new Float32Array([Number(v)]);
      sink.typed(b);
      return;
    }
    default:
      throw new Error(`fixture writer: value type ${type} not supported`);
  }
}

/** A GGUF v3 file holding `metadata` and no tensors. */
export function metadataOnlyGguf(metadata: ReadonlyMap<string, GgufKv>): Uint8Array {
  const sink = new ByteSink();
  sink.bytes(enc.encode('GGUF'));
  sink.u32(3);
  sink.u64(0);
  sink.u64(metadata.size);
  for (const [key, kv] of metadata) {
    sink.str(key);
    sink.u32(kv.type);
    if (kv.type !== GgufValueType.ARRAY) {
      scalar(sink, kv.type, kv.value);
      continue;
    }
    const at = kv.arrayType ?? GgufValueType.UINT8;
    const v = kv.value as ArrayLike<unknown>;
    sink.u32(at);
    sink.u64(v.length);
    if (ArrayBuffer.isView(v)) sink.typed(v);
    else for (let i = 0; i < v.length; i++) scalar(sink, at, v[i]);
  }
  const pad = (32 - (sink.length % 32)) % 32;
  sink.bytes(new Uint8Array(pad));
  return sink.finish();
}

/** Architecture keys llama.cpp requires before it reads the vocabulary (values are irrelevant). */
export function tinyLlamaArchMetadata(): Map<string, GgufKv> {
  const u32 = (value: number): GgufKv => ({ type: GgufValueType.UINT32, value });
  return new Map<string, GgufKv>([
    ['general.architecture', { type: GgufValueType.STRING, value: 'llama' }],
    ['general.name', { type: GgufValueType.STRING, value: 'dure-tokenizer-fixture' }],
    ['llama.context_length', u32(4096)],
    ['llama.embedding_length', u32(64)],
    ['llama.block_count', u32(1)],
    ['llama.feed_forward_length', u32(128)],
    ['llama.attention.head_count', u32(4)],
    ['llama.attention.head_count_kv', u32(4)],
    ['llama.rope.dimension_count', u32(16)],
    ['llama.attention.layer_norm_rms_epsilon', { type: GgufValueType.FLOAT32, value: 1e-5 }],
  ]);
}
