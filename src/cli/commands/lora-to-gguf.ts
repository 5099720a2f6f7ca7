/**
 * `dure lora-to-gguf --adapter DIR|adapter_model.safetensors --base base.gguf --out adapter.gguf`
 *
 * Converts a PEFT LoRA adapter (adapter_model.safetensors + adapter_config.json) into llama.cpp's
 * LoRA GGUF for the given base model (checked against its shapes and architecture), so
 * `llama-cli --lora` / node-llama-cpp apply the same adapter as Dure's engine.
 */
import { readFile, rename, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { readGguf } from '../../engine/gguf/reader.ts';
import { modelConfig } from '../../engine/model/config.ts';
import { LORA_LIMITS } from '../../engine/lora/adapter.ts';
import { LoraAdapterError } from '../../engine/lora/errors.ts';
import { loraFromSafetensors } from '../../engine/lora/peft.ts';
import { loraToGguf } from '../../tools/gguf/lora-to-gguf.ts';
import { FileOpenError, FileSource } from '../../node/file-source.ts';
import { CliArgsError, reportError, parseCliArgs } from '../args.ts';
import { toArgsError } from './tokenize.ts';

const HELP = `사용법 / usage: dure lora-to-gguf --adapter DIR|adapter_model.safetensors --base base.gguf --out x.gguf

  --adapter P   PEFT 어댑터 폴더 또는 adapter_model.safetensors (옆에 adapter_config.json)
                PEFT adapter folder, or its adapter_model.safetensors (adapter_config.json beside it)
  --config F    adapter_config.json 경로 (기본: 어댑터 옆) / path of adapter_config.json
  --base F      기반 GGUF 모델 / base GGUF model (architecture and shapes are checked)
  --out F       출력 LoRA GGUF / output LoRA GGUF
  --name S      general.name (기본: 어댑터 폴더 이름) / adapter name
`;

/** Reads a file of at most `max` bytes. @throws {FileOpenError} @throws {LoraAdapterError} */
async function readBounded(path: string, max: number): Promise<Uint8Array> {
  let size: number;
  try {
    const st = await stat(path);
    if (!st.isFile()) throw new FileOpenError(`${path} is not a regular file`);
    size = st.size;
  } catch (e) {
    if (e instanceof FileOpenError) throw e;
    throw new FileOpenError(`cannot read ${path}: ${(e as { code?: string }).code ?? 'unknown error'}`, {
      cause: e,
    });
  }
  if (size > max) throw new LoraAdapterError(`${path} has ${size} bytes; the limit is ${max}`);
  return readFile(path);
}

export async function run(argv: string[]): Promise<number> {
  try {
    let v;
    try {
      ({ values: v } = parseCliArgs({
        args: argv,
        options: {
          adapter: { type: 'string' },
          config: { type: 'string' },
          base: { type: 'string' },
          out: { type: 'string' },
          name: { type: 'string' },
          help: { type: 'boolean', short: 'h', default: false },
        },
        strict: true,
      }));
    } catch (e) {
      throw toArgsError(e);
    }
    if (v.help) {
      process.stdout.write(HELP);
      return 0;
    }
    if (!v.adapter) throw new CliArgsError('--adapter is required');
    if (!v.base) throw new CliArgsError('--base is required');
    if (!v.out) throw new CliArgsError('--out is required');

    let dir = v.adapter;
    let weights = join(dir, 'adapter_model.safetensors');
    const st = await stat(v.adapter).catch(() => undefined);
    if (!st) throw new FileOpenError(`${v.adapter} does not exist`);
    if (st.isFile()) {
      weights = v.adapter;
      dir = dirname(v.adapter);
    }
    const configPath = v.config ?? join(dir, 'adapter_config.json');
    const bytes = await readBounded(weights, LORA_LIMITS.maxValues * 4 + 4 * 1024 * 1024);
    const config = new TextDecoder().decode(await readBounded(configPath, 64 * 1024));
    const lora = loraFromSafetensors(bytes, config);

    const source = await FileSource.open(v.base);
    let gguf: Uint8Array;
    try {
      const cfg = modelConfig(await readGguf(source));
      gguf = loraToGguf(lora, { architecture: cfg.arch, dims: cfg }, v.name ?? basename(dir));
    } finally {
      await source.close?.();
    }
    // Write then rename: an interrupted run never leaves a truncated adapter behind.
    const tmp = `${v.out}.${process.pid}.tmp`;
    await writeFile(tmp, gguf);
    await rename(tmp, v.out);
    process.stdout.write(
      `${v.out}: ${lora.tensors.size} tensors, rank ${lora.rank}, alpha ${lora.alpha}, ${gguf.byteLength} bytes\n`,
    );
    return 0;
  } catch (e) {
    return reportError(e);
  }
}
