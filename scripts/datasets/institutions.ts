/**
 * Synthetic Korean Q&A datasets for three kinds of institution — 민원 안내 (civil petitions),
 * 병원 안내 (hospital) and 복지 안내 (welfare) — in the JSONL record format
 * (`{"instruction","input","output"}`), for the federation demo and tests (issue #8, item 6).
 *
 * Everything here is made up by a seeded template generator: the city (행복시), the hospital
 * (두레병원), names, phone numbers and e-mail addresses are fictitious. A few inputs carry
 * PII-shaped strings (010-…, e-mail, a written resident-number form) on purpose, so the console's
 * PII scrubber has something to mask; answers never repeat them. Facts are plausible but
 * simplified — this is demo data, not guidance. Pure and platform-neutral: the browser imports it.
 */
import { DureError } from '../../src/engine/errors.ts';
import type { InstructionRecord } from '../../src/training/examples.ts';

export const INSTITUTIONS = ['civil', 'hospital', 'welfare'] as const;
export type InstitutionName = (typeof INSTITUTIONS)[number];

/** Korean display names of the datasets. */
export const INSTITUTION_TITLES: Record<InstitutionName, { ko: string; en: string }> = {
  civil: { ko: '행복시 민원 안내', en: 'Haengbok City civil petitions' },
  hospital: { ko: '두레병원 진료 안내', en: 'Dure Hospital patient guide' },
  welfare: { ko: '행복시 복지 안내', en: 'Haengbok City welfare guide' },
};

/** Every record has `input` (possibly empty), as the JSONL format expects. */
export type DatasetRecord = Required<InstructionRecord>;

export interface InstitutionDataset {
  name: InstitutionName;
  seed: number;
  train: DatasetRecord[];
  test: DatasetRecord[];
}

export interface DatasetOptions {
  /** Distinct records to draw in total (train + test). Default 480. */
  size?: number;
  /** Share held out for testing. Default 0.15. */
  testFraction?: number;
}

/** Unknown dataset name or impossible options. */
export class DatasetError extends DureError {
  override name = 'DatasetError';
  constructor(message: string) {
    super('DATASET', message);
  }
}

/** splitmix32: tiny, seedable and identical in every JS engine. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return ((z ^ (z >>> 16)) >>> 0) / 4294967296;
  };
}

type Rand = () => number;
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
const digits = (r: Rand, n: number): string => Array.from({ length: n }, () => Math.floor(r() * 10)).join('');

/** Who is asking; `note` is what the answer adds for them. `pii` marks inputs with PII-shaped strings. */
interface Context {
  input: string;
  note: string;
  pii?: boolean;
}

interface Topic {
  questions: readonly string[];
  /** The core of the answer (합니다체), one or more sentences. */
  answer: readonly string[];
  /** Contexts specific to the topic, besides the institution's shared ones. */
  contexts?: readonly Context[];
}

interface Institution {
  topics: readonly Topic[];
  openers: readonly string[];
  closers: readonly string[];
  contexts: (r: Rand) => Context;
}

const SURNAMES = ['김', '이', '박', '최', '정', '강', '조', '윤', '장', '임'];
const GIVEN = ['하늘', '두레', '보람', '새봄', '다온', '한결', '가람', '나래', '이슬', '슬기'];
const fakeName = (r: Rand): string => pick(r, SURNAMES) + pick(r, GIVEN);
const fakePhone = (r: Rand): string => `010-${digits(r, 4)}-${digits(r, 4)}`;
const fakeEmail = (r: Rand): string =>
  `${pick(r, ['dure', 'haneul', 'saebom', 'hangyeol'])}${digits(r, 3)}@example.kr`;
/** The written 주민등록번호 form (YYMMDD-SNNNNNN) with random digits: detected, not real. */
const fakeRrn = (r: Rand): string =>
  `${pick(r, ['58', '64', '71', '85', '92'])}${pick(r, ['01', '03', '07', '11'])}${pick(r, ['05', '12', '21', '28'])}-${pick(r, ['1', '2'])}${digits(r, 6)}`;

const PII_NOTE = '개인정보(연락처, 주민등록번호 등)는 상담 창에 적지 않으셔도 됩니다.';

/** Shared contexts: none, age, proxy, and a few with PII-shaped strings. */
function commonContext(r: Rand, proxyNote: string): Context {
  const x = r();
  if (x < 0.35) return { input: '', note: '' };
  if (x < 0.5) {
    const age = 20 + Math.floor(r() * 60);
    return { input: `저는 ${age}세입니다.`, note: '' };
  }
  if (x < 0.65) {
    const who = pick(r, ['어머니', '아버지', '배우자', '할머니', '자녀']);
    return { input: `${who} 대신 제가 신청하려고 합니다.`, note: proxyNote };
  }
  if (x < 0.75) {
    return { input: `이름은 ${fakeName(r)}이고, 연락처는 ${fakePhone(r)}입니다.`, note: PII_NOTE, pii: true };
  }
  if (x < 0.82) return { input: `답변은 ${fakeEmail(r)}로 보내 주세요.`, note: PII_NOTE, pii: true };
  if (x < 0.87) return { input: `제 주민등록번호는 ${fakeRrn(r)}입니다.`, note: PII_NOTE, pii: true };
  return {
    input: pick(r, ['처음 신청해 봅니다.', '급하게 필요합니다.', '평일에는 시간이 없습니다.']),
    note: '',
  };
}

const CIVIL: Institution = {
  openers: ['안내해 드리겠습니다.', '문의하신 내용을 안내해 드립니다.', '네, 알려 드리겠습니다.', ''],
  closers: [
    '자세한 사항은 행복시 민원콜센터(국번 없이 120)로 문의하시기 바랍니다.',
    '방문 전에 행복시 누리집에서 운영 시간을 확인하시기 바랍니다.',
    '더 궁금한 점이 있으시면 가까운 행정복지센터로 문의해 주십시오.',
    '',
  ],
  contexts: (r) => commonContext(r, '대리 신청은 위임장과 대리인의 신분증이 필요합니다.'),
  topics: [
    {
      questions: [
        '주민등록등본은 어디에서 발급받을 수 있나요?',
        '주민등록등본 발급 방법을 알려 주세요.',
        '등본을 떼려면 어떻게 해야 하나요?',
        '주민등록등본을 인터넷으로 받을 수 있나요?',
      ],
      answer: [
        '주민등록등본은 가까운 행정복지센터나 무인민원발급기에서 신분증을 제시하고 발급받을 수 있습니다.',
        '정부24 누리집에서 공동인증서로 로그인하면 무료로 발급받을 수 있습니다.',
      ],
    },
    {
      questions: [
        '전입신고는 어떻게 하나요?',
        '이사했는데 전입신고 기한이 있나요?',
        '전입신고를 온라인으로 할 수 있나요?',
        '전입신고할 때 무엇이 필요한가요?',
      ],
      answer: [
        '전입신고는 이사한 날부터 14일 이내에 새 주소지의 행정복지센터에서 하셔야 합니다.',
        '신분증을 가지고 방문하시거나 정부24에서 온라인으로 신고할 수 있습니다.',
      ],
      contexts: [
        {
          input: '세대주가 아닌데 전입신고를 해도 되나요?',
          note: '세대주가 아니어도 본인이 신고할 수 있습니다.',
        },
      ],
    },
    {
      questions: [
        '여권을 새로 발급받으려면 무엇이 필요한가요?',
        '여권 신청 절차를 알려 주세요.',
        '여권 발급에 얼마나 걸리나요?',
        '여권을 재발급받고 싶습니다.',
      ],
      answer: [
        '여권은 시청 여권민원실에서 신청하실 수 있으며, 신분증과 최근 6개월 이내에 찍은 여권용 사진 1매가 필요합니다.',
        '발급까지는 보통 영업일 기준 5일 정도 걸립니다.',
      ],
      contexts: [
        { input: '만 18세 미만 자녀의 여권입니다.', note: '미성년자는 법정대리인의 동의가 필요합니다.' },
      ],
    },
    {
      questions: [
        '인감증명서는 어떻게 발급받나요?',
        '인감증명서를 대리로 뗄 수 있나요?',
        '인감도장을 새로 등록하고 싶습니다.',
      ],
      answer: [
        '인감증명서는 본인이 신분증을 가지고 행정복지센터를 방문하여 발급받을 수 있습니다.',
        '인감 등록은 주소지 행정복지센터에서만 가능합니다.',
      ],
    },
    {
      questions: [
        '가족관계증명서 발급 방법이 궁금합니다.',
        '가족관계증명서는 어디서 떼나요?',
        '가족관계증명서를 온라인으로 받을 수 있나요?',
      ],
      answer: [
        '가족관계증명서는 행정복지센터나 무인민원발급기에서 발급받을 수 있습니다.',
        '대법원 전자가족관계등록시스템에서도 발급받을 수 있습니다.',
      ],
    },
    {
      questions: [
        '주민등록증을 잃어버렸어요. 어떻게 해야 하나요?',
        '주민등록증 재발급 절차를 알려 주세요.',
        '신분증을 분실했는데 재발급받고 싶습니다.',
      ],
      answer: [
        '주민등록증을 잃어버리셨다면 먼저 분실 신고를 하시고, 행정복지센터에서 재발급을 신청하시기 바랍니다.',
        '재발급에는 최근 6개월 이내에 찍은 사진 1매와 수수료 5,000원이 필요합니다.',
      ],
    },
    {
      questions: [
        '출생신고는 언제까지 해야 하나요?',
        '아기가 태어났는데 출생신고 방법을 알려 주세요.',
        '출생신고에 필요한 서류가 무엇인가요?',
      ],
      answer: [
        '출생신고는 아기가 태어난 날부터 1개월 이내에 하셔야 합니다.',
        '출생증명서와 신고인의 신분증을 가지고 행정복지센터를 방문하시거나 온라인으로 신고할 수 있습니다.',
      ],
    },
    {
      questions: [
        '건축물대장은 어떻게 발급받나요?',
        '토지대장을 열람하고 싶습니다.',
        '건축물대장 열람 방법을 알려 주세요.',
      ],
      answer: [
        '건축물대장과 토지대장은 정부24에서 열람하거나 발급받을 수 있습니다.',
        '행정복지센터와 시청 민원실에서도 발급받을 수 있습니다.',
      ],
    },
    {
      questions: [
        '무인민원발급기는 어디에 있나요?',
        '무인민원발급기에서 어떤 서류를 뗄 수 있나요?',
        '밤에도 민원 서류를 발급받을 수 있나요?',
      ],
      answer: [
        '무인민원발급기는 시청, 행정복지센터, 지하철역 등에 설치되어 있습니다.',
        '주민등록등본, 가족관계증명서 등 여러 서류를 지문 인식으로 발급받을 수 있습니다.',
      ],
    },
    {
      questions: [
        '불법 주정차 신고는 어떻게 하나요?',
        '도로에 쓰레기가 쌓여 있는데 어디에 신고하나요?',
        '생활 불편 신고 방법을 알려 주세요.',
      ],
      answer: [
        '생활 불편 사항은 안전신문고 앱이나 누리집에서 사진과 함께 신고하실 수 있습니다.',
        '신고하신 내용은 담당 부서로 전달되어 처리 결과를 알려 드립니다.',
      ],
    },
    {
      questions: [
        '대형 폐기물은 어떻게 버리나요?',
        '오래된 가구를 버리고 싶습니다.',
        '냉장고 같은 큰 가전제품 배출 방법을 알려 주세요.',
      ],
      answer: [
        '대형 폐기물은 행정복지센터나 행복시 누리집에서 배출 신고를 하고 수수료를 내신 뒤 지정된 날에 내놓으시면 됩니다.',
        '냉장고와 세탁기 같은 큰 가전제품은 무상 방문 수거 서비스를 이용하실 수 있습니다.',
      ],
    },
    {
      questions: [
        '자동차 등록은 어디에서 하나요?',
        '차량 이전 등록 절차를 알려 주세요.',
        '중고차를 샀는데 명의 이전은 어떻게 하나요?',
      ],
      answer: [
        '자동차 등록과 이전 등록은 시청 차량등록사업소에서 하실 수 있습니다.',
        '자동차365 누리집에서 온라인으로 신청할 수도 있습니다.',
      ],
    },
  ],
};

const HOSPITAL: Institution = {
  openers: ['두레병원을 이용해 주셔서 감사합니다.', '안내해 드리겠습니다.', '네, 알려 드리겠습니다.', ''],
  closers: [
    '자세한 사항은 두레병원 대표 전화로 문의하시기 바랍니다.',
    '응급한 증상이 있으시면 즉시 응급실을 방문하시거나 119에 연락하십시오.',
    '방문 전에 예약 시간을 다시 확인해 주시기 바랍니다.',
    '',
  ],
  contexts: (r) =>
    commonContext(r, '보호자가 대신 오실 경우 환자와의 관계를 확인할 수 있는 서류가 필요합니다.'),
  topics: [
    {
      questions: [
        '진료 예약은 어떻게 하나요?',
        '외래 진료를 예약하고 싶습니다.',
        '전화로 진료 예약이 가능한가요?',
        '인터넷으로 진료 예약을 할 수 있나요?',
      ],
      answer: [
        '진료 예약은 두레병원 누리집, 모바일 앱, 전화 예약센터에서 하실 수 있습니다.',
        '처음 오시는 분은 진료과와 희망 날짜를 말씀해 주시면 예약을 도와 드립니다.',
      ],
    },
    {
      questions: [
        '예약을 변경하거나 취소하고 싶습니다.',
        '진료 예약 날짜를 바꿀 수 있나요?',
        '예약 취소는 언제까지 해야 하나요?',
      ],
      answer: [
        '예약 변경과 취소는 진료일 하루 전까지 누리집이나 전화 예약센터에서 하실 수 있습니다.',
        '당일 취소는 진료과 접수창구로 연락해 주시기 바랍니다.',
      ],
    },
    {
      questions: [
        '처음 방문하는데 외래 접수는 어떻게 하나요?',
        '초진 접수 절차를 알려 주세요.',
        '외래 접수할 때 무엇을 가져가야 하나요?',
      ],
      answer: [
        '처음 방문하시면 1층 원무과 초진 접수창구에서 신분증을 제시하고 등록하신 뒤 진료과로 가시면 됩니다.',
        '다른 병원에서 받은 진료의뢰서와 검사 결과가 있으면 함께 가져오시기 바랍니다.',
      ],
    },
    {
      questions: [
        '혈액 검사 전에 금식해야 하나요?',
        '검사 전 주의사항을 알려 주세요.',
        '건강검진 전날 무엇을 조심해야 하나요?',
      ],
      answer: [
        '공복 혈액 검사와 복부 초음파 검사는 검사 전날 밤 9시 이후부터 금식하셔야 합니다.',
        '물은 조금 드셔도 되지만, 복용 중인 약은 의료진과 상의하신 뒤 드시기 바랍니다.',
      ],
    },
    {
      questions: [
        'MRI 검사는 얼마나 걸리나요?',
        'CT 검사 예약 방법을 알려 주세요.',
        '영상 검사 당일 준비할 것이 있나요?',
      ],
      answer: [
        'MRI 검사는 보통 30분에서 1시간 정도 걸리며, 검사 30분 전까지 영상의학과에 도착하셔야 합니다.',
        '몸에 금속이 있거나 심장박동기를 사용하시면 미리 알려 주시기 바랍니다.',
      ],
    },
    {
      questions: [
        '진단서를 발급받고 싶습니다.',
        '진료비 영수증은 어디서 받나요?',
        '의무기록 사본 발급 절차가 궁금합니다.',
      ],
      answer: [
        '진단서와 진료비 영수증, 의무기록 사본은 1층 원무과 제증명 창구에서 발급받으실 수 있습니다.',
        '의무기록 사본은 환자 본인의 신분증이 필요하며, 대리 발급은 위임장과 관계 증명 서류가 필요합니다.',
      ],
    },
    {
      questions: [
        '병문안 시간이 어떻게 되나요?',
        '입원 환자 면회가 가능한가요?',
        '보호자는 몇 명까지 상주할 수 있나요?',
      ],
      answer: [
        '입원 환자 면회는 평일 오후 6시부터 8시까지, 주말에는 오전 10시부터 12시까지 가능합니다.',
        '감염 예방을 위해 보호자는 환자 1명당 1명만 상주하실 수 있습니다.',
      ],
    },
    {
      questions: ['주차 요금은 얼마인가요?', '병원에 주차할 수 있나요?', '외래 환자 주차 할인이 되나요?'],
      answer: [
        '병원 지하 주차장을 이용하실 수 있으며, 외래 진료를 받으신 날은 원무과에서 주차 할인을 받으실 수 있습니다.',
        '주차 공간이 부족할 수 있으니 가능하면 대중교통을 이용해 주시기 바랍니다.',
      ],
    },
    {
      questions: [
        '응급실은 24시간 운영하나요?',
        '밤에 갑자기 아프면 어디로 가야 하나요?',
        '응급실 진료 순서는 어떻게 정해지나요?',
      ],
      answer: [
        '응급실은 24시간 운영하며, 도착하신 순서가 아니라 증상의 위급한 정도에 따라 진료 순서가 정해집니다.',
        '의식이 없거나 숨쉬기 어려운 경우에는 바로 119에 연락하십시오.',
      ],
    },
    {
      questions: [
        '처방전은 어디에서 약으로 바꾸나요?',
        '원외 처방전 유효 기간이 얼마인가요?',
        '약국은 병원 안에 있나요?',
      ],
      answer: [
        '외래 처방전은 병원 밖의 가까운 약국 어디에서나 조제받으실 수 있습니다.',
        '처방전의 유효 기간은 발행일을 포함하여 3일입니다.',
      ],
    },
    {
      questions: ['입원 수속은 어떻게 하나요?', '입원할 때 준비물을 알려 주세요.', '퇴원 절차가 궁금합니다.'],
      answer: [
        '입원 수속은 입원 당일 1층 입퇴원 창구에서 하시며, 신분증과 입원 약정서가 필요합니다.',
        '개인 세면도구와 복용 중인 약을 챙겨 오시기 바랍니다.',
      ],
    },
  ],
};

const WELFARE: Institution = {
  openers: ['행복시 복지 안내입니다.', '안내해 드리겠습니다.', '네, 알려 드리겠습니다.', ''],
  closers: [
    '자세한 상담은 보건복지상담센터(국번 없이 129)로 문의하시기 바랍니다.',
    '주소지 행정복지센터 복지 담당자와 상담하시면 자세히 안내받으실 수 있습니다.',
    '복지로 누리집에서 모의 계산을 해 보실 수 있습니다.',
    '',
  ],
  contexts: (r) => commonContext(r, '가족이 대신 신청하실 때는 위임장과 신청인의 신분증이 필요합니다.'),
  topics: [
    {
      questions: [
        '기초연금은 누가 받을 수 있나요?',
        '기초연금 신청 자격을 알려 주세요.',
        '기초연금은 어떻게 신청하나요?',
        '부모님이 기초연금을 받으실 수 있을까요?',
      ],
      answer: [
        '기초연금은 만 65세 이상이시고 소득인정액이 선정 기준액 이하인 분이 받으실 수 있습니다.',
        '주소지 행정복지센터나 국민연금공단 지사에서 신청하시거나 복지로에서 온라인으로 신청할 수 있습니다.',
      ],
      contexts: [
        {
          input: '올해 만 65세가 됩니다.',
          note: '만 65세 생일이 속한 달의 한 달 전부터 신청할 수 있습니다.',
        },
      ],
    },
    {
      questions: [
        '긴급복지 지원은 어떤 경우에 받을 수 있나요?',
        '갑자기 실직해서 생활이 어렵습니다. 도움을 받을 수 있나요?',
        '긴급 생계비 지원 신청 방법을 알려 주세요.',
      ],
      answer: [
        '긴급복지 지원은 주 소득자의 사망, 실직, 중한 질병 등으로 갑자기 생계가 어려워진 가구가 받을 수 있습니다.',
        '보건복지상담센터나 행정복지센터에 요청하시면 먼저 지원하고 나중에 조사합니다.',
      ],
    },
    {
      questions: [
        '아동수당은 얼마나 받을 수 있나요?',
        '아동수당 신청 방법을 알려 주세요.',
        '아이가 몇 살까지 아동수당을 받나요?',
      ],
      answer: [
        '아동수당은 만 8세 미만 아동에게 매월 10만 원씩 지급됩니다.',
        '출생신고를 하실 때 행정복지센터나 복지로에서 함께 신청하실 수 있습니다.',
      ],
      contexts: [
        {
          input: '아이가 지난달에 태어났습니다.',
          note: '출생일부터 60일 이내에 신청하시면 출생한 달부터 받으실 수 있습니다.',
        },
      ],
    },
    {
      questions: [
        '기초생활수급자 신청은 어떻게 하나요?',
        '생계급여를 받을 수 있는지 알고 싶습니다.',
        '국민기초생활보장 제도를 설명해 주세요.',
      ],
      answer: [
        '국민기초생활보장은 소득인정액이 기준 이하인 가구에 생계, 의료, 주거, 교육 급여를 지원하는 제도입니다.',
        '주소지 행정복지센터에서 신청하시면 소득과 재산 조사를 거쳐 결과를 알려 드립니다.',
      ],
    },
    {
      questions: [
        '장애인 등록은 어떻게 하나요?',
        '장애인 활동지원 서비스를 신청하고 싶습니다.',
        '장애 정도 심사 절차를 알려 주세요.',
      ],
      answer: [
        '장애인 등록은 주소지 행정복지센터에서 신청하시고, 의사의 진단서를 제출하시면 국민연금공단에서 심사합니다.',
        '활동지원 서비스는 등록 후 별도로 신청하시면 조사를 거쳐 지원 시간이 정해집니다.',
      ],
    },
    {
      questions: [
        '노인 일자리 사업에 참여하고 싶습니다.',
        '어르신 일자리 신청 방법을 알려 주세요.',
        '노인 일자리는 어떤 일을 하나요?',
      ],
      answer: [
        '노인 일자리 사업은 만 65세 이상 기초연금 수급자를 중심으로 공익 활동과 사회 서비스 일자리를 제공합니다.',
        '매년 초에 행정복지센터와 노인복지관에서 참여자를 모집합니다.',
      ],
    },
    {
      questions: [
        '주거급여는 누가 받을 수 있나요?',
        '월세 지원을 받을 수 있을까요?',
        '주거급여 신청 절차를 알려 주세요.',
      ],
      answer: [
        '주거급여는 소득인정액이 기준 이하인 가구에 임차료나 집수리 비용을 지원합니다.',
        '행정복지센터에서 신청하시면 주택 조사를 거쳐 지원 금액이 정해집니다.',
      ],
    },
    {
      questions: [
        '에너지 바우처는 어떻게 신청하나요?',
        '겨울 난방비 지원을 받을 수 있나요?',
        '에너지 바우처 대상자를 알려 주세요.',
      ],
      answer: [
        '에너지 바우처는 생계급여나 의료급여를 받는 가구 가운데 노인, 영유아, 장애인 등이 있는 가구가 받을 수 있습니다.',
        '행정복지센터에서 신청하시면 전기, 가스, 난방 요금을 지원받으실 수 있습니다.',
      ],
    },
    {
      questions: [
        '부모급여는 얼마인가요?',
        '영아를 키우는 가정이 받을 수 있는 지원이 있나요?',
        '부모급여 신청 방법을 알려 주세요.',
      ],
      answer: [
        '부모급여는 만 2세 미만 아동을 키우는 가정에 매월 지급되며, 아이의 나이에 따라 금액이 다릅니다.',
        '출생신고를 하실 때 행정복지센터나 복지로에서 신청하실 수 있습니다.',
      ],
    },
    {
      questions: [
        '돌봄이 필요한 어르신을 위한 서비스가 있나요?',
        '노인 맞춤 돌봄 서비스를 신청하고 싶습니다.',
        '혼자 사시는 어머니를 도와줄 서비스가 있을까요?',
      ],
      answer: [
        '노인 맞춤 돌봄 서비스는 혼자 생활하기 어려운 만 65세 이상 어르신께 안부 확인, 생활 지원, 가사 지원을 제공합니다.',
        '주소지 행정복지센터에서 신청하시면 상담을 거쳐 서비스가 정해집니다.',
      ],
    },
    {
      questions: [
        '한부모가족 지원은 어떤 것이 있나요?',
        '혼자 아이를 키우는데 받을 수 있는 지원이 있나요?',
        '한부모가족 증명서는 어떻게 발급받나요?',
      ],
      answer: [
        '한부모가족은 소득 기준에 따라 아동양육비와 학용품비 등을 지원받을 수 있습니다.',
        '행정복지센터에서 한부모가족 지원 대상자 신청을 하시면 증명서도 발급받으실 수 있습니다.',
      ],
    },
  ],
};

const INSTITUTION_DATA: Record<InstitutionName, Institution> = {
  civil: CIVIL,
  hospital: HOSPITAL,
  welfare: WELFARE,
};

/** Softer ways to ask the same question, so phrasings vary beyond the topic's list. */
const PREFIXES = ['', '', '', '안녕하세요. ', '문의드립니다. ', '하나 여쭤보겠습니다. '];

function makeRecord(inst: Institution, r: Rand): DatasetRecord {
  const topic = pick(r, inst.topics);
  const question = pick(r, PREFIXES) + pick(r, topic.questions);
  const ctx = topic.contexts && r() < 0.3 ? pick(r, topic.contexts) : inst.contexts(r);
  // One or both answer sentences, in order: short answers are realistic too.
  const core = topic.answer.length > 1 && r() < 0.3 ? [topic.answer[0]!] : [...topic.answer];
  const parts = [pick(r, inst.openers), ...core, ctx.note, pick(r, inst.closers)].filter((s) => s !== '');
  return { instruction: question, input: ctx.input, output: parts.join(' ') };
}

/**
 * The named synthetic dataset: the same name, seed and options give the same records. Records are
 * distinct; the test split holds records whose (instruction, input) pair never occurs in train.
 * @throws {DatasetError} for an unknown name or impossible options.
 */
export function institutionDataset(
  name: InstitutionName,
  seed = 1,
  options: DatasetOptions = {},
): InstitutionDataset {
  const inst = INSTITUTION_DATA[name as InstitutionName];
  if (!inst) throw new DatasetError(`unknown dataset ${String(name)} (one of ${INSTITUTIONS.join(', ')})`);
  const size = options.size ?? 480;
  const testFraction = options.testFraction ?? 0.15;
  if (!Number.isInteger(size) || size < 2 || size > 5000) {
    throw new DatasetError(`size must be an integer in [2, 5000], got ${size}`);
  }
  if (!(testFraction > 0 && testFraction < 1)) {
    throw new DatasetError(`testFraction must be in (0, 1), got ${testFraction}`);
  }
  const r = rng((Math.imul(seed, 0x2545f491) ^ INSTITUTIONS.indexOf(name)) >>> 0);
  // Group by prompt so a test question is never seen with another answer variant in training.
  const byPrompt = new Map<string, DatasetRecord>();
  const seen = new Set<string>();
  for (let tries = 0; byPrompt.size < size && tries < size * 50; tries++) {
    const rec = makeRecord(inst, r);
    const key = `${rec.instruction}\u0000${rec.input}`;
    if (seen.has(key)) continue;
    seen.add(key);
    byPrompt.set(key, rec);
  }
  if (byPrompt.size < size) {
    throw new DatasetError(`only ${byPrompt.size} distinct ${name} records exist; asked for ${size}`);
  }
  const records = [...byPrompt.values()];
  const nTest = Math.max(1, Math.round(records.length * testFraction));
  return { name, seed, train: records.slice(0, records.length - nTest), test: records.slice(-nTest) };
}

/** One JSON object per line, as the console's file picker reads. */
export function toJsonl(records: readonly DatasetRecord[]): string {
  return (
    records
      .map((r) => JSON.stringify({ instruction: r.instruction, input: r.input, output: r.output }))
      .join('\n') + '\n'
  );
}
