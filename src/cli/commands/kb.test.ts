import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { COMMANDS } from '../main.ts';
import { run } from './kb.ts';

const dir = mkdtempSync(join(tmpdir(), 'dure-kb-'));
let out = '';
let err = '';

beforeEach(() => {
  out = '';
  err = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
});
afterEach(() => vi.restoreAllMocks());
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('dure kb', () => {
  it('is a registered command with bilingual help', async () => {
    expect(COMMANDS.kb?.file).toBe('kb.ts');
    expect(await run(['--help'])).toBe(0);
    expect(out).toMatch(/지식 베이스/);
    expect(out).toMatch(/Builds kb\.json/);
  });

  it('builds the same bytes from the same folder and reports as JSON', async () => {
    const src = join(dir, 'src');
    mkdirSync(join(src, 'sub'), { recursive: true });
    writeFileSync(
      join(src, 'a.md'),
      '---\ntitle: 여권\nurl: /p\n---\n# 여권\n\n## 수수료\n\n53,000원입니다.\n',
    );
    writeFileSync(join(src, 'sub', 'b.html'), '<h1>보건소</h1><p>평일에 엽니다.</p><script>x()</script>');
    writeFileSync(join(src, 'notes.pdf'), 'skipped');
    writeFileSync(join(src, '.hidden.md'), '# 숨김');
    expect(await run(['build', '--src', src, '--out', join(dir, 'one.json'), '--json'])).toBe(0);
    const summary = JSON.parse(out) as { files: number; passages: number; sha256: string };
    expect(summary).toMatchObject({ files: 2, passages: 2 });
    expect(await run(['build', '--src', src, '--out', join(dir, 'two.json')])).toBe(0);
    expect(out).toContain(summary.sha256);
    const one = readFileSync(join(dir, 'one.json'), 'utf8');
    expect(readFileSync(join(dir, 'two.json'), 'utf8')).toBe(one);
    expect(one).toContain('"source":"sub/b.html"');
    expect(one).not.toContain('x()');
  });

  it('evaluates a Q&A set as JSON', async () => {
    const qa = join(dir, 'qa.jsonl');
    writeFileSync(
      qa,
      [
        { id: '1', split: 'dev', question: '여권 수수료', source: 'a.md', section: '수수료' },
        { id: '2', split: 'heldout', question: '여권 수수료 얼마', source: 'a.md', section: '수수료' },
        { id: '3', split: 'dev', question: '비트코인 시세', source: null },
      ]
        .map((l) => JSON.stringify(l))
        .join('\n'),
    );
    expect(
      await run(['eval', '--kb', join(dir, 'one.json'), '--qa', qa, '--tokenizer', 'bigram', '--json']),
    ).toBe(0);
    const result = JSON.parse(out) as { methods: { reports: { split: string; recallAt3: number }[] }[] };
    expect(result.methods[0]!.reports.map((r) => [r.split, r.recallAt3])).toEqual([
      ['dev', 1],
      ['heldout', 1],
    ]);
  });

  it('reports errors as "error <CODE>: message"', async () => {
    expect(await run(['build', '--out', join(dir, 'x.json')])).toBe(2);
    expect(err).toMatch(/^error CLI_ARGS: --src is required/);
    err = '';
    writeFileSync(join(dir, 'bad.json'), '{"format":"dure-kb/1"}');
    writeFileSync(join(dir, 'empty.jsonl'), '');
    expect(await run(['eval', '--kb', join(dir, 'bad.json'), '--qa', join(dir, 'empty.jsonl')])).toBe(1);
    expect(err).toMatch(/^error KB_FORMAT: /);
    err = '';
    expect(await run(['frobnicate'])).toBe(2);
    expect(err).toMatch(/^error CLI_ARGS: unknown kb command/);
  });
});
