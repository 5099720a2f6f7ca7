/** UI strings, Korean first. Keys are shared; each language must define every key. */
export const strings = {
  ko: {
    appTitle: '두레 Dure',
    tagline: '내 기기 안에서만 동작하는 한국어 AI 상담. 입력한 내용은 기기 밖으로 나가지 않습니다.',
    diagnostics: 'WebGPU 진단',
    probing: 'WebGPU를 확인하는 중…',
    probeOk: 'WebGPU 사용 가능',
    probeFail: 'WebGPU를 사용할 수 없습니다',
    serverStatus: '연합학습 서버 상태',
  },
  en: {
    appTitle: 'Dure',
    tagline: 'Korean AI help that runs only on your device. Nothing you type leaves it.',
    diagnostics: 'WebGPU diagnostics',
    probing: 'Checking WebGPU…',
    probeOk: 'WebGPU available',
    probeFail: 'WebGPU is not available',
    serverStatus: 'Federated server status',
  },
} as const satisfies Record<'ko' | 'en', Record<string, string>>;

export type Lang = keyof typeof strings;

export function pickLang(preferred: readonly string[]): Lang {
  for (const p of preferred) if (p.toLowerCase().startsWith('en')) return 'en';
  return 'ko';
}
