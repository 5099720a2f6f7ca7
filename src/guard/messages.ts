/**
 * What the citizen reads instead of an answer: plain Korean and English, no codes. Keyed by
 * `GuardReason`, so the widget, the SDK and `dure ask` show the same words.
 */
import type { GuardReason } from './types.ts';

export const GUARD_MESSAGES: Record<GuardReason, { ko: string; en: string }> = {
  allowed: { ko: '', en: '' },
  harmful_request: {
    ko: '이 질문에는 답할 수 없습니다. 다른 사람이나 자신을 해칠 수 있는 내용은 안내하지 않습니다. 민원이나 생활 정보에 관해 물어봐 주세요.',
    en: 'I can’t help with this. I don’t give information that could hurt you or other people. Please ask about public services or everyday matters.',
  },
  hate_speech: {
    ko: '특정 지역, 성별, 종교, 인종 등을 비하하는 내용에는 답할 수 없습니다. 차별을 겪으셨다면 국가인권위원회(☎ 1331)에 상담할 수 있습니다.',
    en: 'I can’t answer content that demeans people for their region, gender, religion or race. If you have faced discrimination, the National Human Rights Commission can help (☎ 1331).',
  },
  personal_data_request: {
    ko: '다른 사람의 주민등록번호, 주소, 연락처 같은 개인정보는 찾거나 알려 드릴 수 없습니다. 본인의 정보가 필요하면 신분증을 가지고 주민센터나 정부24를 이용해 주세요.',
    en: 'I can’t look up or give out other people’s personal data such as resident numbers, addresses or phone numbers. For your own records, use Government24 or visit a community centre with your ID.',
  },
  jailbreak: {
    ko: '안내 규칙을 바꾸거나 숨기라는 요청은 따를 수 없습니다. 궁금한 민원을 그대로 물어봐 주세요.',
    en: 'I can’t follow requests to change or bypass my rules. Please just ask your question about public services.',
  },
  self_harm_support: {
    ko: '많이 힘드시군요. 혼자 견디지 않으셔도 됩니다. 지금 바로 자살예방상담전화 ☎ 109(24시간, 예전 1393)에 전화하거나, 정신건강위기상담 ☎ 1577-0199, 청소년은 ☎ 1388에 연락해 주세요. 위급하면 ☎ 112나 ☎ 119에 전화하세요.',
    en: 'It sounds like you are going through a lot, and you don’t have to face it alone. Please call the suicide prevention line ☎ 109 now (24 hours; it replaced 1393), the mental health crisis line ☎ 1577-0199, or ☎ 1388 for young people. In an emergency call ☎ 112 or ☎ 119.',
  },
  output_harmful: {
    ko: '생성된 답변에 안내할 수 없는 내용이 있어 보여 드리지 않습니다. 질문을 바꿔 다시 물어봐 주세요.',
    en: 'The generated answer contained content I can’t show. Please rephrase your question.',
  },
  output_personal_data: {
    ko: '생성된 답변에 다른 사람의 개인정보로 보이는 내용이 있어 보여 드리지 않습니다.',
    en: 'The generated answer contained what looks like someone’s personal data, so it is not shown.',
  },
  output_prompt_leak: {
    ko: '생성된 답변에 내부 설정이 드러나 보여 드리지 않습니다. 질문을 바꿔 다시 물어봐 주세요.',
    en: 'The generated answer revealed internal instructions, so it is not shown. Please rephrase your question.',
  },
};
