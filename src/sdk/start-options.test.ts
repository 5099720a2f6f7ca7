// createDure refuses malformed options before it touches the browser (no probe, no download), so
// README's placeholder left in reads as a validation error, not a TypeError from deep inside.
import { createDure, InvalidRequestError } from 'dure';
import { describe, expect, it } from 'vitest';
import { checkStartOptions } from './index.ts';
import { DureError, errorText } from '../protocol/errors.ts';

const HEX = 'a'.repeat(64);

async function refusal(p: Promise<unknown>): Promise<InvalidRequestError> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(InvalidRequestError);
  return e as InvalidRequestError;
}

describe('createDure options', () => {
  it("refuses README's placeholder sha256 '…' with INVALID_REQUEST, naming the option", async () => {
    const e = await refusal(createDure({ model: '/models/model.gguf', sha256: '…' }));
    expect(e.code).toBe('INVALID_REQUEST');
    expect(e).toBeInstanceOf(DureError);
    expect(e.message).toMatch(/sha256 must be the model file's SHA-256 as 64 hexadecimal digits/);
    expect(e.message).toContain('"…"');
    expect(errorText(e.code, 'ko')).toBe('요청 형식이 잘못되었습니다.');
  });

  it('refuses other malformed options the same way', async () => {
    for (const bad of [
      { model: '/m.gguf', sha256: 'abc' },
      { model: '/m.gguf', sha256: HEX + '0' },
      { model: '/m.gguf', sha256: '' },
      { model: '', sha256: HEX },
      { model: '/m.gguf', backend: 'gpu' },
      null,
    ])
      await refusal(createDure(bad as never));
  });

  it('accepts a 64-digit hex SHA-256 in either case, or none', () => {
    expect(() => checkStartOptions({ model: '/m.gguf', sha256: HEX })).not.toThrow();
    expect(() => checkStartOptions({ model: '/m.gguf', sha256: HEX.toUpperCase() })).not.toThrow();
    expect(() => checkStartOptions({ model: '/m.gguf' })).not.toThrow();
  });
});
