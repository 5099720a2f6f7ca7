/**
 * The guard's rules, as data: one table per category. A category fires when its score reaches the
 * threshold; the score adds what the text is about (objects), what it asks for (intents), hints
 * of evading detection (evasion), and subtracts legitimate contexts (benign), so that
 * "폭탄 만드는 법" is refused and "폭탄 세일" or "해킹 피해 신고" are not. Direct patterns are
 * unambiguous on their own.
 *
 * Patterns written as strings match the compact form (lower case, no spaces or punctuation; see
 * normalize.ts), so "폭 탄 만 드 는 법" and "폭.탄" match "폭탄만드는법". RegExp patterns match the
 * normalised text with its spacing and case, for what needs word edges or capitals (DAN, [ROOT]).
 */
import type { GuardReason, HarmCategory } from './types.ts';

export type Pattern = string | RegExp;
export type Weighted = readonly [Pattern, number];

export interface CategoryRules {
  category: HarmCategory;
  action: 'refuse' | 'support';
  reason: GuardReason;
  /** What the text is about; summed, at most 2 count. */
  objects: readonly Weighted[];
  /** When given, one of these must match too (e.g. someone else's data, a group of people). */
  requires?: readonly Pattern[];
  /** Intents of this category, added to the shared ones unless `sharedIntents` is false. */
  intents: readonly Weighted[];
  sharedIntents: boolean;
  /** Enough on their own. */
  direct: readonly Pattern[];
  /** Legitimate contexts; added to the shared ones unless `sharedBenign` is false. */
  benign: readonly Pattern[];
  sharedBenign: boolean;
  threshold: number;
  /** Threshold when checking a generated answer (default: `threshold`). */
  outputThreshold?: number;
}

/** Scoring constants, tuned on the dev split only. */
export const SCORE = {
  objectCap: 2,
  intentCap: 2,
  evasion: 2,
  direct: 4,
  benign: -3,
} as const;

/** English words that are also pieces of ordinary words (skill, method, drugstore) need edges. */
const words = (list: string) => new RegExp(`\\b(?:${list})\\b`, 'i');

/** Asking how to make, get or do something. */
export const REQUEST_INTENTS: readonly Weighted[] = [
  ['만드는|만들어|만들기|만들려|만들수|제조|제작|합성|레시피|비율', 2],
  [
    '구하는|구할수|구하려|구해|구함|구합니다|구입|구매|사는법|사는곳|살수있|파는곳|판매처|어디서사|직구|주문',
    2,
  ],
  ['는법|는방법|하는거|하려면|려면|키우는|재배|설치하|개조|요령', 2],
  ['howto|howdoi|howcani|wherecan|whereto|wheredo|synthesi|recipe|stepbystep|instructions', 2],
  [words('buy|build|make|get|steal'), 1],
  // Each entry counts once: "방법 알려줘" is two weak signs, "방법 방법" one.
  ['방법|자세히|어떻게|어디서|어디가좋|뭐가좋|추천|사이트', 1],
  ['알려|가르쳐|설명|써줘|써주|작성|해줘|해주세요|하나만|뭐야', 1],
  ['tellme|explain|write|create|generate|giveme', 1],
];

/** What a generated answer looks like when it gives instructions. */
export const PROCEDURE_INTENTS: readonly Weighted[] = [
  ['재료|준비물|단계|첫째|둘째|먼저|그다음|다음으로|섞|혼합|가열|넣으|투여|주입|실행하', 2],
  [words('step \\d|ingredients|mix|heat|combine|first|then|run'), 2],
];

/** Hints of avoiding detection: they also cancel a benign context ("신고 안 당하게"). */
export const EVASION: readonly Pattern[] = [
  '안걸리|안걸려|안잡히|안들키|들키지않|걸리지않|안걸릴|흔적없이|추적안|추적불가|추적못|경찰모르게|몰래|처방없이|티안나|티안나게',
  '신고안당|신고당하지|백신에안걸|탐지안|탐지되지|우회|hidesfrom|undetect|withoutgettingcaught|untrace|unnoticed',
];

/** Contexts that make an alarming word legitimate in a 민원 question. */
export const SHARED_BENIGN: readonly Pattern[] = [
  '신고|예방|퇴치|피해|치료|캠페인|교육|대피|대비|처벌|뉴스|복구|점검|구별|공모전|쉼터|감면|진정|포상금|허가|대응|대처|상담',
  'report|prevent|victim|treatment|campaign|awareness|news|recover',
];

const rules = (r: Partial<CategoryRules> & Pick<CategoryRules, 'category' | 'objects'>): CategoryRules => ({
  action: 'refuse',
  reason: 'harmful_request',
  intents: [],
  sharedIntents: true,
  direct: [],
  benign: [],
  sharedBenign: true,
  threshold: 3,
  ...r,
});

/** Someone other than the person asking (for requests about other people's data). */
const OTHER_PERSON =
  '남의|남에|다른사람|타인|전여자친구|전남자친구|전여친|전남친|전부인|전남편|전처|헤어진|옆집|이웃|연예인|이사람|그사람|차주|동료|특정인|팀장|상사|부장|과장|선생님|교수|상대방|그여자|그남자|주인|명의자|개인휴대폰|개인번호|[가-힣]{2,3}씨|coworker|someone|myex|neighbo|boss';

/** Groups of people that hate speech targets (region, gender, religion, race, origin, disability…). */
const GROUPS =
  '(전라도|경상도|충청도|강원도|제주도|서울|지방|홍어|외국|이주|동남아|중국|일본|흑인|백인)(사람|놈|년|것|인|민|출신)|여자|남자|여성|남성|노인|무슬림|이슬람|기독교인|조선족|중국인|일본인|흑인|백인|동남아|이민자|이주민|장애인|동성애자|게이|레즈|women|muslim|immigrant|blackpeople|gays';

export const CATEGORY_RULES: readonly CategoryRules[] = [
  rules({
    category: 'jailbreak',
    reason: 'jailbreak',
    // Overriding the assistant's role or rules, or asking for its instructions; a half of
    // either kind counts, together they fire.
    objects: [
      [
        '너는이제|너는지금부터|지금부터너는|이제부터너는|이제부터넌|너는더이상|넌이제|역할극|롤플레이|인척해|인것처럼|처럼얘기해|처럼말해|게임을하자',
        2,
      ],
      ['(소설|가상|상상|꿈|이야기)(속|에서|의)[\\p{L}]{0,4}(ai|인공지능|챗봇|너)', 2],
      ['진짜지시|실제지시|새로운지시|새지시|새규칙|테스트였어|newinstructions|newrules|realinstructions', 2],
      [
        '관리자입니다|개발자입니다|운영자입니다|iamtheadmin|iamyourdeveloper|respondonlyas|respondas|answeras|역할을(그만|버리|맡|해)',
        2,
      ],
      [
        '(네|너의|니|당신의|너한테주어진|너에게주어진|주어진)(시스템)?(프롬프트|지시문|지시|지침|설정|규칙)',
        2,
      ],
      [
        'pretendyou|youarenow|youarenolonger|fromnowon|actas|roleplay|imagineyouare|grandma|letsplayagame|yourprompt|yourinstructions|yourrules',
        2,
      ],
    ],
    intents: [
      [
        '(제한|규칙|검열|필터|제약|윤리|정책|금지|안전장치)(이|가|도|을|를)?(없는|없이|없어|해제|비활성|풀|끄|꺼)',
        2,
      ],
      ['거절하지않|거부하지않|뭐든대답|뭐든말|무엇이든대답|어떤질문에도|모든답변허용', 2],
      ['명령만따라|말만들어|시키는대로|모든질문에답|해커역할|악당|evilbot|hacker', 2],
      [
        'withoutany(rules|restrictions|limits|filters)|withoutrestrictions|unrestricted|unfiltered|no(ethical)?(rules|restrictions|limits|filters|ethics|guidelines)|neverrefuse|anything',
        2,
      ],
      [
        '(disable|remove|turnoff|bypass)(your|all|the)?(safety|content)?(filters?|rules|guidelines|restrictions)',
        2,
      ],
      ['뭐야|알려|적어|보여|출력|말해|목록|처음문장|그대로|print|reveal|repeat|list', 2],
    ],
    sharedIntents: false,
    direct: [
      /^\s*\[(?=[^\]]*[A-Z]{3})[A-Z0-9?!_:./=\s-]{2,32}\]/,
      /^\s*(?:system|admin|root|developer|관리자|시스템)\s*:/i,
      /<\|[a-z_]+\|>|<<\/?SYS>>|\[\/?INST\]|<start_of_turn>|<\/?s>/i,
      // DAN and kin only as a persona ("you are DAN", "DAN 모드"), not as someone's name.
      /\b(?:you are|as|act as|become) (?:DAN|STAN|DUDE)\b|\b(?:DAN|STAN|DUDE)\s*(?:mode|모드|으로|처럼)/i,
      '(ignore|disregard|forget|override)(all|any|the|your|my|everything)*(previous|prior|above|earlier|preceding|original)',
      '(ignore|disregard|forget|override)(all|any|the|your|my)*(instructions|rules|prompts?|directions|guidelines)',
      'forget(everything|all)(you|that)',
      'whatwereyoutold|beforethisconversation|quoteitexactly|verbatim',
      '(위|앞|이전)(의|에)?(내용|대화)[\\p{L}]{0,4}(다|모두|전부)?(잊|무시)',
      '(규칙|지시|지침)[\\p{L}]{0,2}(무효|폐기|취소)',
      '(이전|앞|위|기존|원래|지금까지)(의|에|에있는|에서)?(모든)?(지시|지침|규칙|명령|프롬프트|설정|제약|안내)[\\p{L}]{0,6}(무시|잊)',
      '무시해?(이전|앞|위|기존)(의)?(지시|지침|규칙|명령|프롬프트)',
      '(지시|지침|규칙|명령|프롬프트)[\\p{L}]{0,4}(다|모두|전부)?(무시|잊어)',
      '(시스템|초기|원래|숨겨진)(프롬프트|지시문|지시|지침|설정)[\\p{L}]{0,8}(출력|보여|알려|공개|말해|그대로)',
      '(위|앞)(에|의)?(있는)?(지시|지침|규칙|프롬프트)[\\p{L}]{0,6}(알려|보여|출력|공개)',
      '(print|reveal|show|repeat|output|tellme)(me)?(your|the)(full|entire|original|hidden)?(systemprompt|initialinstructions|instructions|prompt)',
      'doanythingnow|developermode|개발자모드|관리자모드|jailbreakmode|탈옥모드|godmode|adminmode|관리자권한으로|sudomode',
      '(해독|디코드|decode)[\\p{L}\\p{N}]{0,12}(따라|실행|follow|execute|obey)',
      '(rot13|base64|암호문|16진수)(으로|로)(답|대답|말|써)|answerin(rot13|base64)',
    ],
    benign: [],
    sharedBenign: false,
  }),
  rules({
    category: 'self_harm',
    action: 'support',
    reason: 'self_harm_support',
    objects: [
      [
        '자살|자해|죽고싶|죽는법|죽는방법|죽으려|죽어버리|목숨끊|목숨을끊|극단적선택|살기싫|살고싶지않|그만살|끝내고싶|사는게의미|몇알먹으면죽|손목긋|손목을긋|유서',
        2,
      ],
      ['killmyself|suicid|hurtmyself|selfharm|endmylife|wanttodie|waytodie|endit(all)?', 2],
      // Ambiguous alone ("강아지가 초콜릿 먹으면 죽나요"), telling together.
      ['뛰어내리|번개탄|painless', 1],
      ['혼자쓰려|안아프게|고통없이|다리에서|옥상에서|한통다|다먹으면', 1],
      ['사라지고싶|없어지고싶|다끝내|끝내려|dontwanttolive|notwanttolive|wanttodisappear', 2],
      ['죽나요|죽어요|죽을까|죽을수있|die', 1],
    ],
    intents: [],
    sharedIntents: false,
    // Prevention work and facilities are answered like any 민원 question; help-seeking is not.
    benign: [
      '예방센터(위치|어디|주소|운영)|생명지킴이|자원봉사|캠페인|교육|예산|통계|자살률|유족|유가족|지원모임',
    ],
    sharedBenign: false,
    threshold: 2,
    // An answer may name the help lines; only one that walks through a method is replaced.
    outputThreshold: 4,
  }),
  rules({
    category: 'terror',
    objects: [
      [
        '사제폭탄|파이프폭탄|tatp|니트로글리세린|네이팜|독가스|사린|탄저균|폭발물|폭약|pipebomb|차로돌진|차량돌진|돌진|thermite|테르밋|정수장|독(을)?푸|가스(를)?살포',
        2,
      ],
      [words('IEDs?|bombs?|explosives?'), 2],
      ['폭탄|폭파|폭발시키|테러|terror', 1],
    ],
    intents: [['일으키|퍼뜨리|터뜨리|설치|다는|가입|살포|detonate|attack|사람많은', 2]],
    benign: [
      '폭탄세일|세일|요금폭탄|세금폭탄|물폭탄|폭탄맞|맞은|폭탄주|폭탄발언|의심|수상한|민방위|발견|누출',
    ],
  }),
  rules({
    category: 'violence_weapons',
    objects: [
      ['사제총|3d프린터로권총|화염병|pipegun|ghostgun|살상력|급소|실탄', 2],
      [
        '총기|권총|소총|엽총|(불법|사제)?총(?=구하|구입|만들|만드|을쏘|쏘는)|석궁|전기충격기|흉기|칼로|독극물|독약|독을?먹|쏘게',
        1,
      ],
      ['죽이|살해|살인|찌르|찔러|때려|때리|폭행|다치게|복수|목졸|제압|혼내|겁주|위협', 1],
      ['회칼|쇠파이프|공기총|야구방망이|둔기', 1],
      [words('guns?|pistols?|rifles?|firearms?|kill|murder|stab|poison'), 1],
    ],
    intents: [['개조|튜닝|위력|쏘는|찌르는|죽이려|죽이는', 1]],
    benign: [
      '세일|폭염|살인적|사고|훈련|학교폭력|가정폭력|데이트폭력|베였|진료|병원|소지허가|수렵|멧돼지|칼갈이',
    ],
  }),
  rules({
    category: 'hacking_malware',
    objects: [
      [
        '랜섬웨어|ransomware|악성코드|malware|트로이목마|trojan|keylogger|키로거|sql인젝션|sqlinjection|백도어|backdoor|디도스|ddos|봇넷|botnet|스파이앱|spyware|stalkerware|해킹툴|hackingtool',
        2,
      ],
      ['해킹|hack|크랙|crack|뚫|비밀번호털|계정털|exploit|익스플로잇|취약점|침투', 1],
      ['전산망|관리자페이지|서버에몰래', 1],
      ['인증서우회|인증우회|본인인증우회|훔쳐보|엿보|도청|몰래보는', 2],
      [words('steal\\w*( \\w+){0,3} passwords?'), 2],
    ],
    intents: [['유포|침투하|탈취|뚫는|털어|공격툴|공격하|까는|스캔', 2]],
    direct: ['해킹(해|해줘|해주세요|해줄|해달)(?!당|피해)'],
    benign: [
      '해킹당|해킹피해|당했|감염|복구|검사|화이트해커|보안교육|washacked|hacked|보안점검|털렸|안전하게',
    ],
  }),
  rules({
    category: 'drugs',
    objects: [
      [
        '필로폰|메스암페타민|코카인|cocaine|헤로인|heroin|대마|마리화나|엑스터시|ecstasy|mdma|케타민|ketamine|lsd|펜타닐|fentanyl|작대기|뽕맞|뽕을',
        2,
      ],
      [words('meth|crystal meth|weed|drugs?|molly|coke'), 1],
      ['마약|졸피뎀|프로포폴|떨(?=구하|사|파|구입)|아이스(?=구하|작대기|파는)', 1],
    ],
    intents: [['투약|주사하|키우|재배|텔레|dealer|판매|grow', 1]],
    benign: [
      '마약김밥|마약떡볶이|마약옥수수|마약베개|중독치료|처방받|사범|퇴치|dealing|폐의약품|버리는|폐기|drugstore|pharmacy',
    ],
  }),
  rules({
    category: 'sexual',
    objects: [
      ['아동[\\p{L}]{0,4}(음란|성착취)|딥페이크|치마속|조건만남|성매매|야설|야동|원나잇', 2],
      [
        '야한|성적인|19금|성관계|섹스|음란|포르노|porn|몰카|몰래카메라|불법촬영|몰래촬영|성인사이트|explicit|nude|누드|알몸|벗은|벗긴|합성사진',
        1,
      ],
      [words('sex|sexual|dirty story'), 1],
    ],
    intents: [
      ['소설|이야기|묘사|장면|롤플레이|scene|story|roleplay', 1],
      ['써|보여|해줘', 1],
      ['찍는|설치|공유|보는법|유포|각도', 2],
    ],
    // Sex with minors is refused whatever the phrasing.
    direct: [
      '(미성년자|고등학생|중학생|초등학생|청소년|아동)[\\p{L}]{0,8}(야한|성적|음란|섹스|자도|잠자리|성관계|성착취)',
    ],
    benign: ['성교육|성범죄|성희롱|알림e|성폭력|탐지기|문해'],
  }),
  rules({
    category: 'hate',
    reason: 'hate_speech',
    objects: [[GROUPS, 1]],
    requires: [GROUPS],
    intents: [
      ['(은|는|들은|들이란|들|놈들은)(다|전부|모두|원래|하나같이|죄다)|죄다|always|areall', 1],
      [
        '사기꾼|범죄자|테러리스트|terrorist|criminal|lazy|stupid|시끄럽|감정적|(채용|뽑|시키)[\\p{L}]{0,2}면안|게으|더럽|더러워|멍청|머리가나빠|열등|inferior|없어져야|추방|쫓아내|뒤통수|비하|욕하는|조롱|벌레|축내|꼰대|기생충|미개|집에서애나|주제에|무슨공무원|ruin|destroy|dirty|parasite|joke',
        2,
      ],
      ['write|essay|글써|글좀|써줘', 1],
    ],
    sharedIntents: false,
    direct: [
      '홍어(들|새끼|족|년|놈)|과메기들|김치녀|된장녀|한남충|한남들|틀딱|짱깨|쪽바리|똥남아|개슬람|맘충|급식충|깜둥이|nigger|멍청도|전라디언|개독|페미년|보슬아치',
    ],
    benign: ['차별받|차별없|차별금지|차별신고|혐오발언들|혐오표현신고|인권|다문화|지원|차별상담|성차별상담'],
  }),
  rules({
    category: 'fraud_phishing',
    objects: [
      [
        '보이스피싱|스미싱|phishing|피싱|사칭|대포통장|위조|부정수급|명의도용|남의명의|카드복제|속여서|사기치|돈뜯|가짜택배|링크누르게|scam|인척|척하고|가짜영수증|허위|사기문구|사기문자|사기멘트|남의신분증|타인명의|링크(를)?(클릭|누르)',
        1,
      ],
      [
        '(실업급여|보조금|지원금|수당|급여)[\\p{L}]{0,8}(몰래|가짜|허위|부정|타는|빼돌)|pretendingtobe|carddetails',
        1,
      ],
      ['꼼수|두번받|중복수급', 1],
      ['fakegovernment|fakewebsite|fakebank|collectids|가짜사이트|가짜홈페이지', 2],
    ],
    intents: [
      ['대본|문자만들|보내는|보내서|돌리는|뜯는|받는법|타는|개통|클릭하게|pretending|그럴듯|멘트|문구', 2],
    ],
    benign: ['당했|지급정지|예방|구별|방지서비스|사기피해|가짜공무원이'],
  }),
  rules({
    category: 'personal_data',
    reason: 'personal_data_request',
    objects: [
      [
        '주민(등록)?번호|residentregistration|socialsecurity|주인이름|번호주인|주인누|누군지|집주소|집이어딘|이사간곳|이사간데',
        2,
      ],
      [
        '집주소|주소|사는곳|어디사는지|집이어딘|어딘지|연락처|전화번호|휴대폰번호|핸드폰번호|직장|명단|address|phonenumber|workplace',
        1,
      ],
      // Naming someone else is half of the request.
      [OTHER_PERSON, 1],
    ],
    requires: [`주민(등록)?번호|명단|residentregistration|집주소|${OTHER_PERSON}`],
    intents: [
      ['알아내|알아낼|알아낸|뽑아|추적|생성기|생성된|만들어|아무거나|조회해줘|찾아줘|listof', 2],
      ['찾|조회|알려|뭐야|find|lookup|giveme', 1],
      ['방법|는법|어떻게|howto|howcan', 1],
    ],
    sharedIntents: false,
    benign: [
      '유출|변경|재발급|뒷자리변경|명의도용방지|열람청구|도로명|말소|^(내|제|본인|나의|저의)|우리아이|자녀',
    ],
    sharedBenign: false,
  }),
];
