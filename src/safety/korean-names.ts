/**
 * Korean person names in free text (issue #20: "이름은 강슬기이고" stayed in training data).
 *
 * A name is a surname from the common-surname list (the top ~100 single-syllable surnames and the
 * compound ones cover over 99% of the population, Statistics Korea 2015 census) followed by a
 * one- or two-syllable given name, but only where the text says it is a person: a cue before it
 * ("이름은", "성명:", "환자명", "민원인" …) or a title/honorific after it ("씨", "님", "환자",
 * "선생님", "주무관" …). A bare surname-initial word is never enough: most Korean words that start
 * with 이, 정, 고, 김, 강… are not names (정부, 이용, 고객, 강화). Common nouns that would
 * otherwise match before a title ("고객님", "사장님") are listed and skipped.
 * Precision and recall on src/safety/fixtures/korean-names.jsonl are measured by
 * korean-names.test.ts and reported in the README.
 */

/** Single-syllable surnames by frequency (2015 census, top 100). */
const SURNAMES_1 =
  '김이박최정강조윤장임한오서신권황안송전홍유고문양손배백허남심노하곽성차주우구민류나진지엄채원천방공현함변염여추도소석선설마길연위표명기반왕금옥육인맹제모탁국어은편용예경봉사부가복태목형피두감호제음빈동온시범좌팽승간상갈단견';
/** Compound surnames, matched before single ones (남궁 is not 남 + 궁…). */
const SURNAMES_2 = ['남궁', '황보', '제갈', '선우', '독고', '사공', '서문', '동방', '망절'];

/** Words before a name that say a person is named. */
const CUES = [
  '제 이름은',
  '내 이름은',
  '이름은',
  '이름이',
  '이름:',
  '이름 :',
  '성명은',
  '성명:',
  '성명 :',
  '성함은',
  '성함이',
  '성함:',
  '환자명:',
  '환자명은',
  '환자 이름은',
  '보호자',
  '신청인',
  '민원인',
  '작성자',
  '대표자',
  '담당자',
  '수취인',
  '예금주',
  '피해자',
  '가해자',
  '의뢰인',
];

/** Self-introductions: a name only with a copula after it ("저는 김민수입니다", not "저는 정말"). */
const SELF_CUES = ['저는', '나는', '제가', '저희 아이는', '제 아이는'];
// Not a bare 라고: "한진이라고" is 한진 + 이라고, not 한진이 + 라고.
const SELF_AFTER = '(?:입니다|이에요|예요|이고요|이고|이라고|이요)';

/**
 * Honorifics after a name (longest first, so 선생님 wins over 님): a two- or three-syllable name,
 * with or without a space ("김 철수 씨" aside, "철수씨", "박영희 님").
 */
const HONORIFICS = [
  '선생님',
  '님께서',
  '어르신',
  '할머니',
  '할아버지',
  '고객님',
  '환자분',
  '원장님',
  '교수님',
  '팀장님',
  '과장님',
  '부장님',
  '대리님',
  '씨',
  '님',
];
/**
 * Job and role words after a name. They are ordinary nouns too ("제품 고객 상담", "임상
 * 의사결정"), so before them only a full three-syllable name counts, and the word must end there.
 */
const ROLES = [
  '주무관',
  '사무관',
  '간호사',
  '변호사',
  '세무사',
  '민원인',
  '보호자',
  '환자',
  '선생',
  '교수',
  '원장',
  '팀장',
  '과장',
  '부장',
  '차장',
  '대리',
  '주임',
  '학생',
  '기자',
  '의사',
];
const TITLES = [...HONORIFICS, ...ROLES];
/** What may follow a title: not another syllable of a longer word, except a particle. */
const AFTER_TITLE =
  '(?=(?:께서|께|에게|이|가|은|는|을|를|의|과|와|도|만|으로|로|이고|이며|입니다|이다|이에요|분|님|들)?(?![가-힣]))';
/** Last syllables that are particles, not given names ("우리의 교수", "현재의 의사"). */
const PARTICLE_END = /[의를을에로도와과는]$/u;
/**
 * Before a role word set apart by a space, also the endings of a word that is the subject or a
 * verb ("기업은 고객", "연계가 고객", "사용해 고객"): given names ending so (김지은) are missed there.
 */
const SPACED_ROLE_BAD_END = /[은이가해고며]$/u;

/** What may follow a name after a cue: particles, copulas, punctuation, space or the end. */
const AFTER_CUE =
  '(?:이고|이며|이구요|이에요|예요|입니다|이라고|라고|이요|이|가|은|는|을|를|의|에게|께서|께|와|과|[\\s,.)!?·"\'」』]|$)';

/**
 * Common words that start with a surname syllable and come before a title ("고객님", "사장님",
 * "이용자 님"): never names. Measured on the fixture's corpus sentences.
 */
const NOT_NAMES = new Set([
  // Roles and kin words that citizens' feedback puts before 님/씨 ("상담원님", "어머님").
  '간호사',
  '계장',
  '관리자',
  '구청장',
  '담당자',
  '대리인',
  '동장',
  '민원인',
  '반장',
  '보호자',
  '상담원',
  '신청인',
  '아버',
  '어르신',
  '어머',
  '위원',
  '의원',
  '이웃',
  '이장',
  '장애인',
  '조합원',
  '주무관',
  '주인',
  '팀장',
  '고객',
  '사장',
  '회장',
  '원장',
  '부장',
  '과장',
  '차장',
  '이사',
  '조교',
  '주임',
  '신청',
  '민원',
  '환자',
  '보호',
  '국민',
  '시민',
  '구민',
  '주민',
  '여러분',
  '선배',
  '후배',
  '동생',
  '형',
  '형님',
  '누님',
  '이모',
  '고모',
  '조카',
  '장인',
  '장모',
  '사모',
  '교수',
  '의사',
  '간호',
  '기사',
  '박사',
  '석사',
  '이용자',
  '이용',
  '상담',
  '담당',
  '선생',
  '학생',
  '부모',
  '손님',
  '손자',
  '손녀',
  '정부',
  '공무',
  '전문',
  '방문',
  '우리',
  '연구',
  '임산부',
  '노인',
  '어린',
  '유족',
  '소장',
  '실장',
  '국장',
  '시장',
  '구청',
  '도지',
  '수험',
  '경찰',
  '전공',
  '주치',
  '간병',
  '장애',
  '대표',
  '한분',
  '모두',
  '모든',
  '여러',
  '가족',
  '고령',
  '신부',
  '사용자',
  '사용',
  '제가',
  '저',
  '이름',
  '성명',
  '성함',
  '정보',
  '정말',
  '하나',
  '부처',
  '마음',
  '연락',
  '주소',
  '서류',
  '전화',
  '신분',
  '본인',
  '이번',
  '이미',
  '이제',
  '지금',
  '우선',
  '오늘',
  '내일',
  '전에',
  '조금',
  '진료',
  '상황',
  '변경',
  '확인',
  '문의',
  '방법',
  '수술',
  '입원',
  '퇴원',
  '주민',
]);

const HANGUL = '[가-힣]';
// One character class for the single-syllable surnames: far faster than a 100-way alternation.
const surnameAlt = `${SURNAMES_2.join('|')}|[${[...new Set(SURNAMES_1)].join('')}]`;
const cueAlt = CUES.map((c) => c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/ /g, '\\s*')).join('|');

const honorificAlt = HONORIFICS.join('|');
const roleAlt = ROLES.join('|');
/** Name then honorific: "김철수 씨", "박영희님", "남궁민 선생님". Not glued to a syllable before. */
const HONORED = new RegExp(
  `(?<!${HANGUL})((?:${surnameAlt})${HANGUL}{1,2})\\s?(?:${honorificAlt})${AFTER_TITLE}`,
  'gu',
);
/** Full name then role: "이미경 간호사", "김유심 교수", "박민수환자". */
const ROLED = new RegExp(
  `(?<!${HANGUL})((?:${SURNAMES_2.join('|')})${HANGUL}{1,2}|(?:${surnameAlt})${HANGUL}{2})(\\s?)(?:${roleAlt})${AFTER_TITLE}`,
  'gu',
);
/** Cue then name: "이름은 강슬기이고", "성명: 홍길동"; three syllables tried first, then two. */
const cued = (given: string, after: string, cues: string) =>
  new RegExp(`(?:${cues})\\s*["'「『]?((?:${surnameAlt})${HANGUL}${given})(?=${after})`, 'gu');
const selfAlt = SELF_CUES.map((c) => c.replace(/ /g, '\\s*')).join('|');
const CUED_PATTERNS = [
  cued('{2}', AFTER_CUE, cueAlt),
  cued('{1}', AFTER_CUE, cueAlt),
  cued('{2}', SELF_AFTER, selfAlt),
  cued('{1}', SELF_AFTER, selfAlt),
];

/**
 * Literal words each pattern needs: most text has none of them, and a literal scan is several
 * times faster than the full patterns (their look-behind defeats the engine's prefix search).
 */
const literalAlt = (words: readonly string[]) =>
  new RegExp(words.map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/ /g, '\\s*')).join('|'), 'u');
const NEEDS_HONORIFIC = literalAlt(HONORIFICS);
const NEEDS_ROLE = literalAlt(ROLES);
const NEEDS_CUE = literalAlt(CUES);
const NEEDS_SELF_CUE = literalAlt(SELF_CUES);

export interface NameFinding {
  start: number;
  end: number;
  value: string;
}

function givenPart(name: string): string {
  const compound = SURNAMES_2.find((s) => name.startsWith(s));
  return name.slice(compound ? 2 : 1);
}

/**
 * Rejects listed common words, and a "given name" that is really a title ("박과장님"). After a
 * cue, a name may be followed by a particle the pattern took for its last syllable ("정보를"),
 * so a listed word at its start rejects it too; before a title it cannot ("이미경 간호사").
 */
function plausible(name: string, cued: boolean): boolean {
  const given = givenPart(name);
  if (given.length === 0 || NOT_NAMES.has(name) || TITLES.includes(given) || PARTICLE_END.test(name))
    return false;
  return !(cued && NOT_NAMES.has(name.slice(0, 2)));
}

/**
 * Person names in `text` (UTF-16 offsets, `end` exclusive), each once, in text order.
 * Only names with a cue or a title are found: see the module comment for why.
 */
export function detectKoreanNames(text: string): NameFinding[] {
  const found: NameFinding[] = [];
  const add = (start: number, value: string, cued: boolean) => {
    const end = start + value.length;
    if (!plausible(value, cued) || found.some((f) => start < f.end && end > f.start)) return;
    found.push({ start, end, value });
  };
  // Cued names: prefer the usual three syllables, then two ("김민입니다" is 김민 + 입니다).
  const cue = NEEDS_CUE.test(text);
  const self = NEEDS_SELF_CUE.test(text);
  for (const [i, re] of CUED_PATTERNS.entries()) {
    if (!(i < 2 ? cue : self)) continue;
    re.lastIndex = 0;
    for (const m of text.matchAll(re)) add((m.index ?? 0) + m[0].length - m[1]!.length, m[1]!, true);
  }
  HONORED.lastIndex = 0;
  if (NEEDS_HONORIFIC.test(text)) for (const m of text.matchAll(HONORED)) add(m.index ?? 0, m[1]!, false);
  ROLED.lastIndex = 0;
  if (NEEDS_ROLE.test(text))
    for (const m of text.matchAll(ROLED))
      if (!(m[2] && SPACED_ROLE_BAD_END.test(m[1]!))) add(m.index ?? 0, m[1]!, false);
  return found.sort((a, b) => a.start - b.start);
}
