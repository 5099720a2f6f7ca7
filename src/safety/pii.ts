/**
 * Input PII guard: finds Korean personal identifiers in what a citizen is about to
 * send, so the widget can warn and offer masking before the text reaches even the local model
 * (and, more importantly, before it lands in the saved conversation).
 *
 * Detectors are deliberately conservative about what counts as a hit: a 13-digit run is only a
 * 주민등록번호 if its birth date and sex digit are plausible, a card number must pass Luhn, etc.
 */

export type PiiKind =
  | 'rrn'
  | 'frn'
  | 'phone'
  | 'email'
  | 'card'
  | 'account'
  | 'passport'
  /** A person's name (korean-names.ts); found only in training data, not by `detectPii`. */
  | 'name'
  /** An institution's own identifier pattern (custom-patterns.ts); training data only. */
  | 'custom';

export interface PiiFinding {
  kind: PiiKind;
  /** UTF-16 offsets into the scanned text, `end` exclusive. */
  start: number;
  end: number;
  value: string;
  /**
   * `high`: the structure and its check digit agree. `medium`: the structure matches but no check
   * digit confirms it (e.g. resident numbers issued since October 2020 carry no checksum).
   */
  confidence: 'high' | 'medium';
}

/** Labels shown to the citizen, Korean first. */
export const PII_LABELS: Record<PiiKind, { ko: string; en: string }> = {
  rrn: { ko: '주민등록번호', en: 'resident registration number' },
  frn: { ko: '외국인등록번호', en: 'alien registration number' },
  phone: { ko: '전화번호', en: 'phone number' },
  email: { ko: '이메일 주소', en: 'e-mail address' },
  card: { ko: '카드 번호', en: 'card number' },
  account: { ko: '계좌번호', en: 'bank account number' },
  passport: { ko: '여권 번호', en: 'passport number' },
  name: { ko: '이름', en: 'name' },
  custom: { ko: '기관 지정 식별자', en: 'institution identifier' },
};

const RRN_WEIGHTS = [2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5] as const;

function digitsOf(s: string): number[] {
  return [...s.replace(/\D/g, '')].map(Number);
}

function weightedSum(d: readonly number[]): number {
  let sum = 0;
  for (let i = 0; i < 12; i++) sum += (d[i] ?? 0) * (RRN_WEIGHTS[i] ?? 0);
  return sum;
}

/** 주민등록번호 check digit (pre-2020 numbers): (11 − Σ mod 11) mod 10. */
export function rrnChecksumOk(d: readonly number[]): boolean {
  return d.length === 13 && (11 - (weightedSum(d) % 11)) % 10 === d[12];
}

/** 외국인등록번호 check digit: (13 − Σ mod 11) mod 10. */
export function frnChecksumOk(d: readonly number[]): boolean {
  return d.length === 13 && (13 - (weightedSum(d) % 11)) % 10 === d[12];
}

/** Birth date (YYMMDD) valid for the century the sex digit implies. */
function plausibleBirth(d: readonly number[]): boolean {
  const sex = d[6] ?? -1;
  // Sex digits 9/0 mean born in the 1800s: nobody alive, so not a real number today.
  const century = [undefined, 1900, 1900, 2000, 2000, 1900, 1900, 2000, 2000, undefined][sex];
  if (century === undefined) return false;
  const yy = (d[0] ?? 0) * 10 + (d[1] ?? 0);
  const mm = (d[2] ?? 0) * 10 + (d[3] ?? 0);
  const dd = (d[4] ?? 0) * 10 + (d[5] ?? 0);
  const date = new Date(Date.UTC(century + yy, mm - 1, dd));
  return date.getUTCMonth() === mm - 1 && date.getUTCDate() === dd && mm >= 1;
}

/** Luhn check used by payment cards (ISO/IEC 7812). */
export function luhnOk(digits: readonly number[]): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let v = digits[digits.length - 1 - i] ?? 0;
    if (i % 2 === 1) {
      v *= 2;
      if (v > 9) v -= 9;
    }
    sum += v;
  }
  return digits.length > 0 && sum % 10 === 0;
}

// Digit runs must not be glued to more digits/hyphens, or we would match inside a longer number.
const NB = '(?<![\\d-])';
const NA = '(?![\\d-])';

interface Detector {
  kind: PiiKind;
  re: RegExp;
  check(match: string): PiiFinding['confidence'] | null | PiiKind;
}

const DETECTORS: Detector[] = [
  {
    // 주민등록번호 / 외국인등록번호: YYMMDD-SNNNNNN, hyphen optional.
    kind: 'rrn',
    re: new RegExp(`${NB}\\d{6}[- ]?\\d{7}${NA}`, 'g'),
    check(m) {
      const d = digitsOf(m);
      if (!plausibleBirth(d)) return null;
      const foreign = (d[6] ?? 0) >= 5 && (d[6] ?? 0) <= 8;
      if (foreign ? frnChecksumOk(d) : rrnChecksumOk(d)) return foreign ? 'frn' : 'rrn';
      // Since 2020-10 the last six digits are random; only the written form is evidence then.
      return /\d{6}-\d{7}/.test(m) ? (foreign ? 'frn' : 'rrn') : null;
    },
  },
  {
    kind: 'card',
    re: new RegExp(`${NB}(?:\\d{4}[- ]?){3}\\d{1,4}(?:[- ]?\\d{3})?${NA}`, 'g'),
    check(m) {
      const d = digitsOf(m);
      return d.length >= 13 && d.length <= 19 && luhnOk(d) ? 'high' : null;
    },
  },
  {
    kind: 'phone',
    // Mobile 010/011/016-019, Seoul 02, regional 0NN, internet 070; optional +82 with the 0 dropped.
    re: /(?<![\d-])(?:\+82[- ]?(?:0)?|0)(?:1[016789]|2|[3-6][1-5]|70)[- .)]?\d{3,4}[- .]?\d{4}(?![\d-])/g,
    check: () => 'high',
  },
  {
    kind: 'email',
    re: /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/g,
    check: () => 'high',
  },
  {
    // Korean passports: old format M12345678, new (2021) M123A4567; also S/R/G/D series.
    kind: 'passport',
    re: /(?<![A-Za-z0-9])[MSRGD](?:\d{8}|\d{3}[A-Z]\d{4})(?![A-Za-z0-9])/g,
    check: () => 'high',
  },
  {
    // Bank accounts have no common check digit; banks print them as 3–4 hyphenated groups
    // (e.g. 국민 123456-12-123456, 신한 110-123-456789) of 10–14 digits.
    kind: 'account',
    re: new RegExp(`${NB}\\d{2,6}-\\d{2,6}-\\d{2,7}(?:-\\d{1,3})?${NA}`, 'g'),
    check(m) {
      const n = digitsOf(m).length;
      return n >= 10 && n <= 14 ? 'medium' : null;
    },
  },
  {
    // An unhyphenated number is only an account when the citizen says so.
    kind: 'account',
    re: /(?:계좌|통장|입금|account|acct)[^\d\n]{0,12}(\d{10,14})(?!\d)/gi,
    check: () => 'medium',
  },
];

/**
 * Finds personal identifiers in `text`. Overlapping hits keep the earlier detector in the list
 * (resident numbers beat cards beat phones beat accounts), so one number is reported once.
 */
export function detectPii(text: string): PiiFinding[] {
  const found: PiiFinding[] = [];
  const overlaps = (s: number, e: number) => found.some((f) => s < f.end && e > f.start);
  for (const det of DETECTORS) {
    det.re.lastIndex = 0;
    for (const m of text.matchAll(det.re)) {
      // For keyword detectors the number is the capture group; report only it.
      const value = m[1] ?? m[0];
      const start = (m.index ?? 0) + m[0].lastIndexOf(value);
      const end = start + value.length;
      if (overlaps(start, end)) continue;
      const verdict = det.check(value);
      if (verdict === null) continue;
      const kind = verdict === 'high' || verdict === 'medium' ? det.kind : verdict;
      const confidence =
        verdict === 'medium' ? 'medium' : verdict === 'high' ? 'high' : confidenceOfId(value);
      found.push({ kind, start, end, value, confidence });
    }
  }
  return found.sort((a, b) => a.start - b.start);
}

function confidenceOfId(value: string): PiiFinding['confidence'] {
  const d = digitsOf(value);
  return rrnChecksumOk(d) || frnChecksumOk(d) ? 'high' : 'medium';
}

/** Masks one identifier keeping just enough to recognise it (structure and a few characters). */
export function maskValue(kind: PiiKind, value: string): string {
  switch (kind) {
    case 'rrn':
    case 'frn':
      // Keep birth date and sex digit as printed on official forms: 900101-1******.
      return value.replace(/^(\d{6}[- ]?\d)\d{6}$/, '$1******');
    case 'email': {
      const at = value.indexOf('@');
      return `${value.slice(0, 1)}${'*'.repeat(Math.max(at - 1, 1))}${value.slice(at)}`;
    }
    case 'passport':
      return value.slice(0, 1) + '*'.repeat(value.length - 1);
    default: {
      // Keep separators and the last four digits.
      const total = digitsOf(value).length;
      let seen = 0;
      return value.replace(/\d/g, (c) => (++seen > total - 4 ? c : '*'));
    }
  }
}

/** Returns `text` with every finding replaced by its masked form. */
export function maskPii(text: string, findings: readonly PiiFinding[] = detectPii(text)): string {
  let out = '';
  let at = 0;
  for (const f of [...findings].sort((a, b) => a.start - b.start)) {
    if (f.start < at) continue;
    out += text.slice(at, f.start) + maskValue(f.kind, f.value);
    at = f.end;
  }
  return out + text.slice(at);
}
