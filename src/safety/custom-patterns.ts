/**
 * An institution's own identifiers (환자번호, 사건번호, 접수번호…) as regular expressions entered
 * in the console, masked before training like the built-in kinds (issue #20).
 *
 * A pattern typed by staff runs over every record, so it must not be able to hang the page
 * (ReDoS). Three guards, each enough for a different failure:
 * 1. A syntax check that refuses what makes JavaScript's backtracking engine exponential or
 *    hard to bound: repetition of a group that itself repeats or alternates (`(\d+)+`, `(a|ab)*`),
 *    back-references and look-arounds, and more than two unbounded repetitions in all.
 * 2. Caps: 120 characters a pattern, 20 patterns, repetition counts up to 100.
 * 3. A timing probe: each pattern runs over adversarial text (long runs of digits, letters,
 *    Hangul, separators, each ending in a mismatch) and is refused above a time budget.
 */
import { CustomPatternError } from '../protocol/errors/safety.ts';

export interface CustomPattern {
  /** What the identifier is called, shown in place of it: `[환자번호]`. */
  label: string;
  /** The regular expression source, without slashes or flags. */
  pattern: string;
}

export interface CompiledPattern {
  label: string;
  re: RegExp;
}

export const CUSTOM_PATTERN_LIMITS = {
  maxPatterns: 20,
  maxPatternChars: 120,
  maxLabelChars: 20,
  maxRepeat: 100,
  maxUnboundedRepeats: 2,
  probeBudgetMs: 50,
} as const;

/** Why a pattern's syntax is refused, or null when it is safe to run. */
export function unsafeReason(src: string): string | null {
  // Each open group: whether it (or a group inside it) repeats, repeats without bound, alternates.
  type Group = { repeats: boolean; unbounded: boolean; alternates: boolean };
  const fresh = (): Group => ({ repeats: false, unbounded: false, alternates: false });
  const groups: Group[] = [fresh()];
  let unbounded = 0;
  let lastAtom: 'char' | 'group' | null = null;
  let closed: Group | null = null;
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    const top = groups.at(-1)!;
    if (c === '\\') {
      const n = src[i + 1] ?? '';
      if (/[1-9]/.test(n) || n === 'k') return 'back-reference';
      i++;
      lastAtom = 'char';
      continue;
    }
    if (c === '[') {
      // A class is one atom; skip to its unescaped end.
      let j = i + 1;
      if (src[j] === '^') j++;
      if (src[j] === ']') j++;
      while (j < src.length && src[j] !== ']') j += src[j] === '\\' ? 2 : 1;
      i = j;
      lastAtom = 'char';
      continue;
    }
    if (c === '(') {
      if (src[i + 1] === '?') {
        const kind = src.slice(i + 2, i + 4);
        if (kind.startsWith('=') || kind.startsWith('!') || kind === '<=' || kind === '<!')
          return 'look-around';
      }
      groups.push(fresh());
      lastAtom = null;
      continue;
    }
    if (c === ')') {
      const g = groups.pop();
      if (!g || groups.length === 0) return 'unbalanced';
      closed = g;
      const parent = groups.at(-1)!;
      parent.repeats ||= g.repeats;
      parent.unbounded ||= g.unbounded;
      parent.alternates ||= g.alternates;
      lastAtom = 'group';
      continue;
    }
    if (c === '|') {
      top.alternates = true;
      lastAtom = null;
      continue;
    }
    const brace = c === '{' ? /^\{(\d+)(,(\d*))?\}/.exec(src.slice(i)) : null;
    if (c === '*' || c === '+' || brace) {
      const max = brace
        ? brace[2] === undefined
          ? Number(brace[1])
          : brace[3]
            ? Number(brace[3])
            : Infinity
        : Infinity;
      if (
        brace &&
        Math.max(Number(brace[1]), Number.isFinite(max) ? max : 0) > CUSTOM_PATTERN_LIMITS.maxRepeat
      )
        return 'repeat count too large';
      // Bounded inside bounded ((\d{2}-){3}) stays small; anything unbounded around or inside a
      // repeating or alternating group is how backtracking blows up ((\d+)+, (a|ab)*).
      if (
        lastAtom === 'group' &&
        closed &&
        ((max === Infinity && (closed.repeats || closed.alternates)) || (closed.unbounded && max > 1))
      )
        return 'nested repetition';
      if (max === Infinity && ++unbounded > CUSTOM_PATTERN_LIMITS.maxUnboundedRepeats)
        return 'too many repetitions';
      if (max > 1) top.repeats = true;
      if (max === Infinity) top.unbounded = true;
      if (brace) i += brace[0].length - 1;
      if (src[i + 1] === '?') i++; // lazy
      continue;
    }
    if (c === '?') continue;
    lastAtom = 'char';
  }
  return groups.length === 1 ? null : 'unbalanced';
}

/** Text on which a slow pattern shows itself: long runs that almost match, then fail. */
const PROBES = ['0', 'a', '가', '0-', 'a1', ' '].map((u) => u.repeat(Math.ceil(4000 / u.length)) + '\u0000!');

/**
 * Checks and compiles one pattern.
 * @throws {CustomPatternError} CUSTOM_PATTERN_LIMIT, CUSTOM_PATTERN_UNSAFE or CUSTOM_PATTERN_INVALID.
 */
export function compileCustomPattern(
  p: CustomPattern,
  now: () => number = () => performance.now(),
): CompiledPattern {
  const label = p.label.trim();
  const src = p.pattern.trim();
  if (label.length === 0 || src.length === 0)
    throw new CustomPatternError('a custom pattern needs a label and a pattern', 'CUSTOM_PATTERN_INVALID');
  if (
    src.length > CUSTOM_PATTERN_LIMITS.maxPatternChars ||
    label.length > CUSTOM_PATTERN_LIMITS.maxLabelChars
  )
    throw new CustomPatternError(`pattern "${label}" is too long`, 'CUSTOM_PATTERN_LIMIT');
  const why = unsafeReason(src);
  if (why)
    throw new CustomPatternError(
      `pattern "${label}" refused: ${why}`,
      why === 'unbalanced' ? 'CUSTOM_PATTERN_INVALID' : 'CUSTOM_PATTERN_UNSAFE',
    );
  let re: RegExp;
  try {
    re = new RegExp(src, 'gu');
  } catch (e) {
    throw new CustomPatternError(
      `pattern "${label}" is not a regular expression: ${String(e)}`,
      'CUSTOM_PATTERN_INVALID',
    );
  }
  if (re.test(''))
    throw new CustomPatternError(`pattern "${label}" matches empty text`, 'CUSTOM_PATTERN_INVALID');
  for (const probe of PROBES) {
    const t0 = now();
    re.lastIndex = 0;
    for (const m of probe.matchAll(re)) if (m.index === undefined) break;
    if (now() - t0 > CUSTOM_PATTERN_LIMITS.probeBudgetMs)
      throw new CustomPatternError(`pattern "${label}" is too slow on long text`, 'CUSTOM_PATTERN_UNSAFE');
  }
  return { label, re };
}

/**
 * Compiles an institution's pattern list.
 * @throws {CustomPatternError} for the first pattern that cannot be used, or too many patterns.
 */
export function compileCustomPatterns(list: readonly CustomPattern[]): CompiledPattern[] {
  if (list.length > CUSTOM_PATTERN_LIMITS.maxPatterns)
    throw new CustomPatternError(
      `at most ${CUSTOM_PATTERN_LIMITS.maxPatterns} patterns`,
      'CUSTOM_PATTERN_LIMIT',
    );
  return list.map((p) => compileCustomPattern(p));
}

export interface CustomFinding {
  label: string;
  start: number;
  end: number;
}

/** Where the institution's patterns match in `text`, in text order; overlaps keep the earlier pattern. */
export function detectCustom(text: string, patterns: readonly CompiledPattern[]): CustomFinding[] {
  const found: CustomFinding[] = [];
  for (const { label, re } of patterns) {
    re.lastIndex = 0;
    for (const m of text.matchAll(re)) {
      const start = m.index ?? 0;
      const end = start + m[0].length;
      if (end > start && !found.some((f) => start < f.end && end > f.start))
        found.push({ label, start, end });
    }
  }
  return found.sort((a, b) => a.start - b.start);
}
