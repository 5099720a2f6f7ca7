/**
 * An error as institution staff read it: what happened in plain words, what to do, and the codes
 * only as a detail (issue #20: not "enrolling: no answer after 8 attempts (Failed to fetch)
 * (NETWORK)"). The words come from the one catalogue (src/protocol/errors.ts); a refusal is
 * explained by the server's own code (BAD_ENROLLMENT_CODE…), which the catalogue also holds.
 */
import { errorText, isCataloguedCode, type ErrorData } from '../protocol/errors.ts';
import type { Lang } from './i18n.ts';

export interface ExplainedError {
  /** What happened, in the reader's language. */
  text: string;
  /** What to check or do, one item each (may be empty when `text` already says it). */
  checks: string[];
  /** Codes and the technical message, for whoever helps the reader. */
  detail: string;
}

/** Where the console was talking to, and from where (for the CORS advice). */
export interface ErrorContext {
  serverUrl: string | null;
  consoleOrigin: string;
}

type Advice = (ctx: ErrorContext) => { ko: string[]; en: string[] };

const unreachable: Advice = ({ serverUrl, consoleOrigin }) => ({
  ko: [
    '서버가 실행 중인지 확인하세요 (관리자에게 서버 상태를 물어보세요).',
    `서버 주소가 맞는지 확인하세요: ${serverUrl ?? '(주소 없음)'}`,
    `서버의 허용 출처(DURE_CORS_ORIGINS)에 이 콘솔의 주소 ${consoleOrigin} 가 들어 있는지 관리자에게 확인을 요청하세요.`,
    '기관 네트워크(방화벽·프록시)가 이 주소로의 연결을 막고 있지 않은지 확인하세요.',
  ],
  en: [
    'Check that the server is running (ask the administrator).',
    `Check the server address: ${serverUrl ?? '(no address)'}`,
    `Ask the administrator to check that the server's allowed origins (DURE_CORS_ORIGINS) include this console's address ${consoleOrigin}.`,
    "Check that your institution's network (firewall, proxy) does not block that address.",
  ],
});

/** What to do where the catalogue's sentence says only what happened. */
const ADVICE: Record<string, Advice> = {
  NETWORK: unreachable,
  REVOKED: () => ({
    ko: ['관리자에게 문의해 새 등록 코드를 받은 뒤, 이 브라우저의 등록을 해제하고 다시 등록하세요.'],
    en: ['Ask the administrator for a new enrolment code, then forget the enrolment here and enrol again.'],
  }),
  BAD_SIGNATURE: () => ({
    ko: ['이 브라우저의 등록을 해제하고 새 등록 코드로 다시 등록하세요.'],
    en: ['Forget the enrolment in this browser and enrol again with a new code.'],
  }),
  UNSIGNED: () => ({
    ko: ['이 브라우저의 등록을 해제하고 새 등록 코드로 다시 등록하세요.'],
    en: ['Forget the enrolment in this browser and enrol again with a new code.'],
  }),
  NOT_FOUND: () => ({
    ko: ['과제가 끝났거나 이 기관이 과제에서 빠졌을 수 있습니다. 관리자에게 확인하세요.'],
    en: ['The task may have ended or this institution may have been removed from it. Ask the administrator.'],
  }),
  NORM_EXCEEDED: () => ({
    ko: ['다시 참여하면 새로 학습합니다. 계속되면 관리자에게 알려 주세요.'],
    en: ['Take part again to train afresh. Tell the administrator if it keeps happening.'],
  }),
  CLIENT_STORE: () => ({
    ko: ['브라우저의 사이트 데이터 저장이 허용되어 있는지(시크릿 창이 아닌지) 확인하세요.'],
    en: ['Check that this browser allows the site to store data (not a private window).'],
  }),
};

/** Explains `e` in `lang`; `ctx` names the server the console tried. */
export function explainError(e: ErrorData, lang: Lang, ctx: ErrorContext): ExplainedError {
  const serverCode = typeof e.details?.['serverCode'] === 'string' ? e.details['serverCode'] : null;
  const status =
    typeof e.details?.['status'] === 'number' && e.details['status'] > 0 ? e.details['status'] : null;
  // The server's reason explains a refusal better than "the server refused the request".
  const code = serverCode && isCataloguedCode(serverCode) ? serverCode : e.code;
  let text = errorText(code, lang);
  if (e.code === 'NETWORK' && ctx.serverUrl)
    text =
      lang === 'ko'
        ? `서버(${ctx.serverUrl})에 연결하지 못했습니다.`
        : `Could not reach the server (${ctx.serverUrl}).`;
  const checks = ADVICE[code]?.(ctx)[lang] ?? [];
  const codes = [serverCode && serverCode !== e.code ? serverCode : null, e.code].filter(Boolean).join(' · ');
  const detail = `${codes}${status ? ` (HTTP ${status})` : ''} — ${e.message}`;
  return { text, checks, detail };
}
