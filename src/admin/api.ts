/**
 * The dashboard's calls to the admin API (same origin as the page). The admin token is kept in
 * sessionStorage only, so it is gone when the tab closes.
 */
import type { AdapterVersion, Task } from '../protocol/schemas.ts';

export interface Institution {
  id: string;
  name: string;
  status: 'pending' | 'active' | 'revoked';
  createdAt: number;
}

export interface RoundDetail {
  number: number;
  state: string;
  globalVersion: number;
  deadlineAt: number;
  failureReason: string | null;
  metrics: Record<string, number> | null;
  participants: {
    institutionId: string;
    status: string;
    numExamples: number;
    norm: number;
    trainLoss: number | null;
  }[];
}

export interface TaskDetail {
  task: Task;
  rounds: RoundDetail[];
  versions: AdapterVersion[];
}

export interface AuditVerification {
  ok: boolean;
  entries: number;
  headHash: string;
  problem?: { seq: number; reason: string };
}

const TOKEN_KEY = 'dure-admin-token';

export const tokenStore = {
  get: () => sessionStorage.getItem(TOKEN_KEY) ?? '',
  set: (t: string) => sessionStorage.setItem(TOKEN_KEY, t),
};

/** Thrown for any non-2xx answer, carrying the server's error code. */
export class AdminApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export async function adminCall<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  const res = await fetch(path, {
    method,
    headers: {
      authorization: `Bearer ${tokenStore.get()}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const data = (await res.json().catch(() => ({}))) as { error?: { code: string; message: string } };
  if (!res.ok)
    throw new AdminApiError(res.status, data.error?.code ?? 'HTTP', data.error?.message ?? res.statusText);
  return data as T;
}
