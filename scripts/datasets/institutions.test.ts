import { describe, expect, it } from 'vitest';
import { detectPii } from '../../src/safety/pii.ts';
import {
  DatasetError,
  INSTITUTIONS,
  institutionDataset,
  toJsonl,
  type InstitutionName,
} from './institutions.ts';

const HANGUL = /[\uAC00-\uD7A3]/g;

describe('institutionDataset', () => {
  it('is deterministic per seed and differs across seeds', () => {
    const a = institutionDataset('civil', 7);
    const b = institutionDataset('civil', 7);
    const c = institutionDataset('civil', 8);
    expect(toJsonl(a.train)).toBe(toJsonl(b.train));
    expect(toJsonl(a.test)).toBe(toJsonl(b.test));
    expect(toJsonl(a.train)).not.toBe(toJsonl(c.train));
  });

  for (const name of INSTITUTIONS) {
    it(`${name}: hundreds of distinct Korean records with a held-out split`, () => {
      const d = institutionDataset(name, 1);
      expect(d.train.length).toBeGreaterThanOrEqual(300);
      expect(d.test.length).toBeGreaterThanOrEqual(50);
      const key = (r: { instruction: string; input: string }) => `${r.instruction}|${r.input}`;
      const trainKeys = new Set(d.train.map(key));
      expect(trainKeys.size).toBe(d.train.length);
      for (const r of d.test) expect(trainKeys.has(key(r))).toBe(false);
      const all = [...d.train, ...d.test];
      // Variety: many different questions and answers, not a handful repeated.
      expect(new Set(all.map((r) => r.instruction)).size).toBeGreaterThan(60);
      expect(new Set(all.map((r) => r.output)).size).toBeGreaterThan(150);
      for (const r of all) {
        expect(r.instruction.length).toBeGreaterThan(5);
        // Korean answers in 합니다체: mostly Hangul, sentences ending in -니다. / -시오.
        const hangul = r.output.match(HANGUL)?.length ?? 0;
        expect(hangul / r.output.replace(/\s/g, '').length).toBeGreaterThan(0.6);
        expect(r.output).toMatch(/(니다|시오)\.$/);
        expect(r.output).not.toMatch(/\s{2}/);
      }
    });
  }

  it('puts PII-shaped strings in a few inputs, never in answers', () => {
    for (const name of INSTITUTIONS) {
      const all = [...institutionDataset(name, 3).train, ...institutionDataset(name, 3).test];
      const withPii = all.filter((r) => detectPii(r.input).length > 0);
      const kinds = new Set(withPii.flatMap((r) => detectPii(r.input).map((f) => f.kind)));
      expect(withPii.length / all.length).toBeGreaterThan(0.05);
      expect(withPii.length / all.length).toBeLessThan(0.4);
      expect(kinds).toEqual(new Set(['phone', 'email', 'rrn']));
      for (const r of all) expect(detectPii(r.output + r.instruction)).toEqual([]);
    }
  });

  it('writes one JSON object per line in the console format', () => {
    const d = institutionDataset('welfare', 1, { size: 20, testFraction: 0.25 });
    expect(d.train.length + d.test.length).toBe(20);
    expect(d.test.length).toBe(5);
    const lines = toJsonl(d.train).trimEnd().split('\n');
    expect(lines.length).toBe(15);
    for (const line of lines)
      expect(Object.keys(JSON.parse(line) as object)).toEqual(['instruction', 'input', 'output']);
  });

  it('rejects unknown names and bad options', () => {
    expect(() => institutionDataset('bank' as InstitutionName)).toThrow(DatasetError);
    expect(() => institutionDataset('civil', 1, { size: 1 })).toThrow(/size/);
    expect(() => institutionDataset('civil', 1, { testFraction: 1 })).toThrow(/testFraction/);
  });
});
