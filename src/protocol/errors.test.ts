import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as catalogue from './errors.ts';
import {
  DureError,
  ERROR_CATALOGUE,
  FederatedError,
  ServerRefusedError,
  UpdateRejectedError,
  errorText,
  fromErrorData,
  isCataloguedCode,
  settle,
  toErrorData,
  unwrapOutcome,
} from './errors.ts';
import { buildCatalogueError } from '../testing/catalogue-errors.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const HANGUL = /[\uac00-\ud7a3]/;

function productFiles(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'testing') continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) productFiles(p, out);
    else if (/\.(ts|svelte)$/.test(name) && !/\.(test|spec)\.ts$/.test(name)) out.push(p);
  }
  return out;
}

describe('error catalogue', () => {
  it('catalogues every error class the protocol layer exports', () => {
    const classes = Object.values(catalogue).filter(
      (v): v is typeof DureError =>
        typeof v === 'function' && (v === DureError || v.prototype instanceof DureError),
    );
    const listed = new Set(ERROR_CATALOGUE.map((e) => e.errorClass as unknown));
    expect(classes.filter((c) => !listed.has(c)).map((c) => c.name)).toEqual([]);
    expect(listed.size).toBe(ERROR_CATALOGUE.length);
    expect(classes.length).toBeGreaterThan(50);
  });

  it('no product file declares a DureError subclass outside the catalogue', () => {
    const offenders = [
      ...productFiles(join(ROOT, 'src')),
      ...productFiles(join(ROOT, 'workers')),
      ...productFiles(join(ROOT, 'federated-server/src')),
    ]
      .filter((f) => !f.includes(`${join('src', 'protocol', 'errors')}`))
      .filter((f) => /class \w+ extends (DureError|FederatedError)\b/.test(readFileSync(f, 'utf8')));
    expect(offenders).toEqual([]);
  });

  it('every code thrown in product code is catalogued', () => {
    const thrown = new Set<string>();
    const files = [
      ...productFiles(join(ROOT, 'src')),
      ...productFiles(join(ROOT, 'workers')),
      ...productFiles(join(ROOT, 'federated-server/src')),
    ];
    for (const f of files) {
      const src = readFileSync(f, 'utf8');
      // new XError(... 'CODE' ...) over several lines, and super('CODE', …)
      for (const m of src.matchAll(/new (\w+Error)\(((?:[^()]|\([^()]*\))*)\)/g)) {
        for (const c of m[2]!.matchAll(/'([A-Z][A-Z0-9_]{2,})'/g)) thrown.add(c[1]!);
      }
      for (const m of src.matchAll(/super\('([A-Z][A-Z0-9_]{2,})'/g)) thrown.add(m[1]!);
    }
    expect(thrown.size).toBeGreaterThan(40);
    expect([...thrown].filter((c) => !isCataloguedCode(c)).sort()).toEqual([]);
  });

  it('gives every code a plain Korean and English message', () => {
    for (const entry of ERROR_CATALOGUE) {
      for (const [code, text] of Object.entries(entry.codes)) {
        expect(code).toMatch(/^[A-Z][A-Z0-9_]+$/);
        expect(text.ko, code).toMatch(HANGUL);
        expect(text.en, code).toMatch(/^[A-Z][^\uac00-\ud7a3]+[.!?]$/);
        // Plain language: the message never shows the code itself.
        expect(text.ko).not.toContain(code);
        expect(text.en).not.toContain(code);
        expect(errorText(code, 'ko')).toBe(text.ko);
      }
    }
    expect(errorText('NO_SUCH_CODE', 'ko')).toBe(errorText('INTERNAL', 'ko'));
  });

  it('rebuilds every class and code as itself across the wire form (JSON, as postMessage would)', () => {
    let n = 0;
    for (const entry of ERROR_CATALOGUE) {
      for (const code of Object.keys(entry.codes)) {
        const thrown = buildCatalogueError(entry, code, `detail of ${code}`);
        expect(thrown.code).toBe(code);
        const back = fromErrorData(JSON.parse(JSON.stringify(toErrorData(thrown))));
        expect(back).toBeInstanceOf(entry.errorClass);
        expect(back).toBeInstanceOf(DureError);
        expect(back.name).toBe(thrown.name);
        expect(back.code).toBe(code);
        expect(back.message).toBe(`detail of ${code}`);
        n++;
      }
    }
    expect(n).toBeGreaterThan(80);
  });

  it('keeps extra fields (HTTP status, server code) across the boundary', () => {
    const refused = fromErrorData(toErrorData(new ServerRefusedError('late', 409, 'LATE_UPDATE')));
    expect(refused).toBeInstanceOf(ServerRefusedError);
    expect((refused as ServerRefusedError).status).toBe(409);
    expect((refused as ServerRefusedError).serverCode).toBe('LATE_UPDATE');
    const rejected = fromErrorData(toErrorData(new UpdateRejectedError('too far', 'NORM_EXCEEDED')));
    expect(rejected).toBeInstanceOf(FederatedError);
    expect((rejected as UpdateRejectedError).status).toBe(422);
    expect(rejected.code).toBe('NORM_EXCEEDED');
  });

  it('turns foreign errors into INTERNAL and unknown names into a plain DureError', async () => {
    const o = await settle(() => {
      throw new TypeError('x is not a function');
    });
    expect(o.ok).toBe(false);
    expect(() => unwrapOutcome(o)).toThrow(DureError);
    const unknown = fromErrorData({ name: 'SomethingNewError', code: 'SOMETHING', message: 'm' });
    expect(unknown).toBeInstanceOf(DureError);
    expect(unknown.name).toBe('SomethingNewError');
    expect(unknown.code).toBe('SOMETHING');
    expect(await settle(() => 42)).toEqual({ ok: true, value: 42 });
  });
});
