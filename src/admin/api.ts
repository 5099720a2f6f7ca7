/**
 * The dashboard's calls to the admin API (same origin as the page). The admin's own token (named
 * admins: federated-server/src/admins.ts) is kept in sessionStorage only, so it is gone when the
 * tab closes. Release and admin shapes mirror federated-server/src/releases.ts and admins.ts (the
 * dashboard may import only src/protocol, not the server).
 */
import { ServerRefusedError } from '../protocol/errors.ts';
import type { AdapterVersion, RoundDetail, Task, TaskMember } from '../protocol/schemas.ts';
export type {
  AdminIdentity,
  BaseModelInfo,
  DeploymentInfo,
  GateResult as ReleaseGate,
  Release,
  TaskActivity,
} from '../protocol/schemas.ts';
import type { PrivacyBudgetView } from '../protocol/secure-round.ts';

export type { TaskMember };

export interface Institution {
  id: string;
  name: string;
  status: 'pending' | 'active' | 'revoked';
  createdAt: number;
}

export interface TaskDetail {
  task: Task;
  rounds: RoundDetail[];
  versions: AdapterVersion[];
  /** The DP budget (null without DP): ε target, spent and left. */
  privacy: PrivacyBudgetView | null;
}

/** One audit log entry (`GET /v1/admin/audit`). */
export interface AuditEntry {
  seq: number;
  at: number;
  type: string;
  actor: string;
  data: Record<string, unknown>;
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
  /** Sign-out: the token is forgotten by this tab. */
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

/** Any non-2xx answer: the catalogue's ServerRefusedError, with the HTTP status and the server's code. */
export { ServerRefusedError as AdminApiError };

export async function adminCall<T>(
  method: 'GET' | 'POST' | 'DELETE',
  path: string,
  body?: unknown,
): Promise<T> {
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
    throw new ServerRefusedError(data.error?.message ?? res.statusText, res.status, data.error?.code);
  return data as T;
}
