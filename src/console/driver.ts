/**
 * The browser's `ConsoleDriver`: enrollment and rounds through the federated round client
 * (src/fl/round-client.ts), training in workers/training.worker.ts. Until those land, every
 * network operation fails with a typed error instead of pretending to work.
 */
import { DureError } from '../engine/errors.ts';
import type { ConsoleDriver } from './session.svelte.ts';

const unavailable = () =>
  new DureError(
    'ROUND_CLIENT_UNAVAILABLE',
    '이 빌드에는 연합학습 라운드 클라이언트가 아직 없습니다 / this build has no federated round client yet',
  );

export function createBrowserDriver(): ConsoleDriver {
  return {
    identity: () => Promise.resolve(null),
    enroll: () => Promise.reject(unavailable()),
    forget: () => Promise.resolve(),
    history: () => Promise.resolve([]),
    participate: () => Promise.reject(unavailable()),
  };
}
