/**
 * Test support: the lines every vocabulary is compared on — each line of ../shared/corpus/*.txt
 * when that folder exists beside the repo, else Dure's own Korean fixtures — plus the edge cases.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { EDGE_CASES } from './fixtures/edge-cases.ts';
import { KO_LINES } from './fixtures/ko-lines.ts';

export const CORPUS_DIR = fileURLToPath(new URL('../../../shared/corpus/', import.meta.url));

export interface ReferenceLines {
  source: string;
  lines: string[];
}

/** Non-empty corpus lines (or the fixtures), then the edge cases. */
export function referenceLines(): ReferenceLines {
  let corpus: string[] = [];
  let source: string;
  if (existsSync(CORPUS_DIR)) {
    const files = readdirSync(CORPUS_DIR).filter((f) => f.endsWith('.txt'));
    for (const f of files.sort()) {
      corpus = corpus.concat(readFileSync(CORPUS_DIR + f, 'utf8').split('\n'));
    }
    corpus = corpus.filter((l) => l.length > 0);
    source = `${corpus.length} lines of ${CORPUS_DIR} (${files.length} files)`;
  } else {
    corpus = [...KO_LINES];
    source = `${CORPUS_DIR} is missing: using Dure's ${KO_LINES.length} Korean fixture lines`;
  }
  return { source, lines: [...corpus, ...KO_LINES, ...EDGE_CASES] };
}
