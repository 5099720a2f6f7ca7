/**
 * Korean tokenisations for BM25, measured against each other on the demo Q&A set
 * (scripts/kb-eval.ts). A real morphological analyser (kiwi-nlp) needs its language model
 * downloaded separately from npm, so it cannot run offline from the package alone; these two
 * need nothing:
 * - `bigram`: syllable bigrams inside each word (a one-syllable word stays a unigram). Robust to
 *   typos, spacing variants (전입신고 / 전입 신고 share 전입, 신고) and particles.
 * - `morph`: whitespace words with common particles and endings (은/는/이/가/을/를/에서/으로/
 *   하려면/합니다 …) stripped, a light stand-in for morphemes.
 * - `morph+bigram`: both token sets together.
 */

export type TokenizerName = 'bigram' | 'morph' | 'morph+bigram';
export const TOKENIZER_NAMES: readonly TokenizerName[] = ['bigram', 'morph', 'morph+bigram'];

const HANGUL = /^[\uac00-\ud7a3]+$/;

/** Lower-cased NFKC words, split further where script changes (2025년 → 2025, 년). */
export function words(text: string): string[] {
  const out: string[] = [];
  for (const w of text
    .normalize('NFKC')
    .toLowerCase()
    .match(/[\p{L}\p{N}]+/gu) ?? []) {
    for (const run of w.match(/[\uac00-\ud7a3]+|\p{N}+|[^\uac00-\ud7a3\p{N}]+/gu) ?? []) out.push(run);
  }
  return out;
}

function bigrams(word: string): string[] {
  if (!HANGUL.test(word) || word.length === 1) return [word];
  const out: string[] = [];
  for (let i = 0; i + 1 < word.length; i++) out.push(word.slice(i, i + 2));
  return out;
}

/**
 * Particles and endings, longest first so 에서는 goes before 는. Chosen from how citizens ask
 * (…하려면, …되나요, …인가요) and how guides are written (…합니다, …해야).
 */
const SUFFIXES = [
  '하려면요',
  '하려고요',
  '했는데요',
  '되나요',
  '하나요',
  '인가요',
  '한가요',
  '할까요',
  '하려면',
  '하려고',
  '해야해',
  '해야돼',
  '해야',
  '합니다',
  '됩니다',
  '입니다',
  '습니다',
  '니다',
  '에서는',
  '으로는',
  '에게서',
  '이에요',
  '예요',
  '해요',
  '돼요',
  '되요',
  '하면',
  '하는',
  '하고',
  '했어',
  '에서',
  '으로',
  '까지',
  '부터',
  '에게',
  '한테',
  '이랑',
  '랑',
  '에는',
  '로는',
  '하다',
  '되다',
  '은',
  '는',
  '이',
  '가',
  '을',
  '를',
  '에',
  '로',
  '의',
  '와',
  '과',
  '도',
  '만',
  '요',
  '나',
  '며',
].sort((a, b) => b.length - a.length);

/** A word without its particle or ending; at least two syllables of stem are kept. */
export function stripSuffix(word: string): string {
  if (!HANGUL.test(word)) return word;
  for (const s of SUFFIXES) {
    if (word.length - s.length >= 2 && word.endsWith(s)) return word.slice(0, -s.length);
  }
  return word;
}

/** The tokens of `text` under a named tokenisation. */
export function tokenize(text: string, method: TokenizerName): string[] {
  const ws = words(text);
  switch (method) {
    case 'bigram':
      return ws.flatMap(bigrams);
    case 'morph':
      return ws.map(stripSuffix);
    case 'morph+bigram':
      // Prefixed so a stem and a bigram that happen to be equal stay separate terms.
      return [...ws.map((w) => `m:${stripSuffix(w)}`), ...ws.flatMap(bigrams)];
  }
}
