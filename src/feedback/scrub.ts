/**
 * Personal data removed from feedback before it becomes training data. The widget's detector
 * (src/safety/pii.ts: resident and alien numbers, phones, e-mail, cards, accounts, passports) is
 * tuned to warn a citizen without crying wolf; training data can afford to lose a few harmless
 * words instead, so two broader detectors join it here: Korean personal names where the text
 * marks them as names (src/safety/korean-names.ts, the console's training-data detector), and
 * street addresses (road name + building number, 번지, 동/호). Placeholders keep nothing of the
 * original.
 */
import { detectKoreanNames } from '../safety/korean-names.ts';
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

/** Road-name addresses (도로명주소): "행복로 12", "세종대로 110-3", "중앙로12번길 5". */
const ROAD_ADDRESS =
  /[가-힣][가-힣0-9]*(?:로|길)\s?\d+(?:번길\s?\d+)?(?:-\d+)?(?!\d|\s?(?:일|만|원|시|분|개|명|년|월|주|회|번(?!길)|%|천|백|억|세|살|장|권|부|통))(?:\s?\d+동)?(?:\s?\d+호)?/g;
/** Lot-number addresses (지번) and apartment units: "행복동 123-4번지", "101동 1203호". */
const LOT_ADDRESS = /[가-힣]+[동리]\s?\d+(?:-\d+)?\s?번지|\d{1,4}동\s?\d{1,5}호/g;

function heuristicSpans(text: string): Span[] {
  const spans: Span[] = [];
  for (const f of detectKoreanNames(text)) spans.push({ kind: 'name', start: f.start, end: f.end });
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
