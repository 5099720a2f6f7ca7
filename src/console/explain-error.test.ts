import { describe, expect, it } from 'vitest';
import { NetworkError, ServerRefusedError, toErrorData } from '../protocol/errors.ts';
import { explainError } from './explain-error.ts';

const ctx = { serverUrl: 'http://localhost:48787', consoleOrigin: 'http://localhost:45173' };

describe('explainError', () => {
  it('explains an unreachable server in Korean with the address tried and what to check', () => {
    const e = toErrorData(new NetworkError('enrolling: no answer after 4 attempts (Failed to fetch)'));
    const x = explainError(e, 'ko', ctx);
    expect(x.text).toBe('서버(http://localhost:48787)에 연결하지 못했습니다.');
    expect(x.checks.join('\n')).toContain('서버가 실행 중인지');
    expect(x.checks.join('\n')).toContain('DURE_CORS_ORIGINS');
    expect(x.checks.join('\n')).toContain('http://localhost:45173');
    // The English and the code stay in the detail, not in the sentence staff read first.
    expect(x.text).not.toMatch(/Failed to fetch|NETWORK/);
    expect(x.detail).toContain('NETWORK');
    expect(x.detail).toContain('Failed to fetch');
  });

  it("explains a refusal by the server's own code, the code only as a detail", () => {
    const e = toErrorData(
      new ServerRefusedError(
        'enrolling: BAD_ENROLLMENT_CODE (401) unknown, used or expired enrollment code',
        401,
        'BAD_ENROLLMENT_CODE',
      ),
    );
    const ko = explainError(e, 'ko', ctx);
    expect(ko.text).toMatch(/^등록 코드가 .*만료되었습니다\. 관리자에게 새 코드를 요청하세요\.$/);
    expect(ko.detail).toMatch(/^BAD_ENROLLMENT_CODE · SERVER_REFUSED \(HTTP 401\)/);
    const en = explainError(e, 'en', ctx);
    expect(en.text).toMatch(/enrolment code is wrong, used or expired/);
  });

  it('falls back to the general refusal for a server code the catalogue does not know', () => {
    const e = toErrorData(new ServerRefusedError('x', 418, 'TEAPOT'));
    expect(explainError(e, 'ko', ctx).text).toBe('서버가 요청을 거절했습니다.');
    expect(explainError(e, 'ko', ctx).detail).toContain('TEAPOT');
  });
});
