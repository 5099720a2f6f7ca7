/**
 * Personal data removed from feedback before it becomes training data. The widget's detector
 * (src/safety/pii.ts: resident and alien numbers, phones, e-mail, cards, accounts, passports) is
 * tuned to warn a citizen without crying wolf; training data can afford to lose a few harmless
 * words instead, so two broader heuristics join it here: Korean personal names where the text
 * marks them as names (a surname plus given name before 씨/님, or after 이름/성명/성함), and
 * street addresses (road name + building number, 번지, 동/호). Placeholders keep nothing of the
 * original.
 */
import { detectPii, PII_LABELS, type PiiKind } from '../safety/pii.ts';

export type ScrubKind = PiiKind | 'name' | 'address';

export const SCRUB_LABELS: Record<ScrubKind, { ko: string; en: string }> = {
  ...PII_LABELS,
  name: { ko: '이름', en: 'name' },
  address: { ko: '주소', en: 'address' },
};

/** What replaces a finding: its kind in Korean, as the dataset loader writes it. */
export function scrubPlaceholder(kind: ScrubKind): string {
  return `[${SCRUB_LABELS[kind].ko}]`;
}

interface Span {
  kind: ScrubKind;
  start: number;
  end: number;
}

/** The most common Korean surnames (over 95% of the population), single syllable. */
const SURNAMES =
  '김이박최정강조윤장임한오서신권황안송류유전홍고문양손배백허남심노하곽성차주우구민진나지엄채원천방공현함변염여추도소석선설마길연위표명기반왕금옥육인맹제모탁국어은편용예경봉';

/** Words that look like surname + syllables before 님/씨 but are roles, not names. */
const NOT_NAMES = new Set([
  '고객',
  '담당',
  '담당자',
  '상담원',
  '민원인',
  '이용자',
  '사용자',
  '주민',
  '어르신',
  '신청인',
  '대리인',
  '보호자',
  '선생',
  '관리자',
  '시민',
  '시장',
  '구청장',
  '과장',
  '팀장',
  '주무관',
  '부모',
  '어머',
  '아버',
  '여러분',
  '이웃',
  '임산부',
  '장애인',
  '원장',
  '국장',
  '소장',
  '부장',
  '실장',
  '차장',
  '계장',
  '동장',
  '반장',
  '이장',
  '위원',
  '의원',
  '기사',
  '간호사',
  '주인',
  '조합원',
]);

const NAME_BEFORE_TITLE = new RegExp(
  `(?<![가-힣])([${SURNAMES}][가-힣]{1,2})\\s?(?=씨|님|고객님|선생님|주무관|과장님|팀장님|담당자)`,
  'g',
);
const NAME_AFTER_CUE =
  /(?:이름|성명|성함)\s*(?:은|는|이|:)?\s*([가-힣]{2,4}?)(?=입니다|이에요|예요|이고|이며|[\s,.)]|$)/g;

/** Road-name addresses (도로명주소): "행복로 12", "세종대로 110-3", "중앙로12번길 5". */
const ROAD_ADDRESS =
  /[가-힣][가-힣0-9]*(?:로|길)\s?\d+(?:번길\s?\d+)?(?:-\d+)?(?!\d|\s?(?:일|만|원|시|분|개|명|년|월|주|회|번(?!길)|%|천|백|억|세|살|장|권|부|통))(?:\s?\d+동)?(?:\s?\d+호)?/g;
/** Lot-number addresses (지번) and apartment units: "행복동 123-4번지", "101동 1203호". */
const LOT_ADDRESS = /[가-힣]+[동리]\s?\d+(?:-\d+)?\s?번지|\d{1,4}동\s?\d{1,5}호/g;

function heuristicSpans(text: string): Span[] {
  const spans: Span[] = [];
  for (const m of text.matchAll(NAME_BEFORE_TITLE)) {
    const name = m[1]!;
    if (NOT_NAMES.has(name)) continue;
    spans.push({ kind: 'name', start: m.index, end: m.index + name.length });
  }
  for (const m of text.matchAll(NAME_AFTER_CUE)) {
    const name = m[1]!;
    const start = m.index + m[0].lastIndexOf(name);
    spans.push({ kind: 'name', start, end: start + name.length });
  }
  for (const re of [ROAD_ADDRESS, LOT_ADDRESS])
    for (const m of text.matchAll(re))
      spans.push({ kind: 'address', start: m.index, end: m.index + m[0].length });
  return spans;
}

export interface ScrubResult {
  text: string;
  /** Kinds replaced, one entry per finding. */
  found: ScrubKind[];
}

/**
 * Replaces identifiers, names and addresses in `text` by placeholders. The widget's detector wins
 * an overlap (its findings are checked structures); among heuristics the earlier, longer one wins.
 */
export function scrubFeedbackText(text: string): ScrubResult {
  const strict: Span[] = detectPii(text).map((f) => ({ kind: f.kind, start: f.start, end: f.end }));
  const spans = [...strict];
  const loose = heuristicSpans(text).sort((a, b) => a.start - b.start || b.end - a.end);
  for (const s of loose) if (!spans.some((t) => s.start < t.end && s.end > t.start)) spans.push(s);
  spans.sort((a, b) => a.start - b.start);
  let out = '';
  let at = 0;
  const found: ScrubKind[] = [];
  for (const s of spans) {
    out += text.slice(at, s.start) + scrubPlaceholder(s.kind);
    found.push(s.kind);
    at = s.end;
  }
  return { text: out + text.slice(at), found };
}
