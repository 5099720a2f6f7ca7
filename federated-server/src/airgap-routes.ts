/**
 * Admin routes for air-gapped institutions (망연계; src/protocol/airgap.ts). The operator carries
 * files across the separation:
 *
 * - `POST /v1/admin/airgap/import`: an institution's recorded phase message. The server replays
 *   it through the institution's own route (Fastify `inject`), so the signature, membership,
 *   phase, size bound and nonce replay checks are exactly the HTTP route's; only the signature's
 *   age may be the file transfer's (`AIRGAP_SIGNATURE_WINDOW_MS`), and only for a replay this
 *   process started (a per-process token no caller can know).
 * - `GET /v1/admin/airgap/export`: one institution's view of a task's round, signed by the server.
 * - `GET /v1/admin/airgap/adapters/:taskId/:version`: a global adapter with its hash, signed.
 * Each is audited with the acting admin.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  MAX_AIRGAP_FILE_BYTES,
  openInstitutionMessage,
  signServerDocument,
  type GlobalAdapterPayload,
  type ServerViewPayload,
} from '../../src/protocol/airgap.ts';
import { AirgapFileError, DureError } from '../../src/protocol/errors.ts';
import { toBase64Url } from '../../src/protocol/base64url.ts';
import { appendAudit } from './audit.ts';
import type { Coordinator } from './coordinator.ts';
import { FederatedError } from './errors.ts';
import type { ServerKey } from './server-key.ts';
import type { Database } from './storage/db.ts';

/** The header that marks a replay started by the import route. */
export const HEADER_AIRGAP_REPLAY = 'x-dure-airgap-replay';

/** A fresh per-process secret and the check that a request carries it. */
export function airgapReplayToken(): { token: string; carries: (req: FastifyRequest) => boolean } {
  const token = randomBytes(32).toString('base64url');
  const expected = Buffer.from(token);
  return {
    token,
    carries: (req) => {
      const given = req.headers[HEADER_AIRGAP_REPLAY];
      return (
        typeof given === 'string' &&
        given.length === token.length &&
        timingSafeEqual(Buffer.from(given), expected)
      );
    },
  };
}

interface Deps {
  db: Database;
  coordinator: Coordinator;
  serverKey: ServerKey;
  replayToken: string;
  /** The app's route options builder (auth, summary, schema). */
  route: (auth: 'admin' | 'public', summary: string, extra?: Record<string, unknown>) => object;
  actorOf: (req: FastifyRequest) => string;
}

/** A refused file as the HTTP error the operator sees. */
function refusedFile(err: unknown): never {
  if (err instanceof AirgapFileError) throw new FederatedError(err.code, 400, err.message);
  throw err;
}

export function registerAirgapRoutes(app: FastifyInstance, d: Deps): void {
  app.get(
    '/v1/server-key',
    d.route('public', "The server's Ed25519 public key that signs files for air-gapped institutions"),
    async () => ({ publicKey: d.serverKey.publicKey, keyId: d.serverKey.keyId }),
  );

  app.post<{ Body: unknown }>(
    '/v1/admin/airgap/import',
    {
      ...d.route(
        'admin',
        "Import an air-gapped institution's phase message (replayed through its signed route); audited",
      ),
      bodyLimit: MAX_AIRGAP_FILE_BYTES,
    },
    async (req, reply) => {
      let opened;
      try {
        opened = await openInstitutionMessage(JSON.stringify(req.body));
      } catch (err) {
        refusedFile(err);
      }
      const { message, body } = opened;
      const r = message.request;
      const res = await app.inject({
        method: 'POST',
        url: r.path,
        headers: { ...r.headers, 'content-type': r.contentType, [HEADER_AIRGAP_REPLAY]: d.replayToken },
        payload: Buffer.from(body.buffer, body.byteOffset, body.byteLength),
      });
      if (res.statusCode !== 200) return reply.status(res.statusCode).type('application/json').send(res.body);
      await appendAudit(d.db, 'airgap.imported', d.actorOf(req), {
        taskId: message.taskId,
        round: message.round,
        phase: message.phase,
        institutionId: message.institutionId,
      });
      return { ok: true, taskId: message.taskId, round: message.round, phase: message.phase };
    },
  );

  app.get<{ Querystring: { taskId: string; institutionId: string; round?: number } }>(
    '/v1/admin/airgap/export',
    d.route('admin', "Export one institution's view of a task's round as a server-signed file; audited", {
      querystring: Type.Object({
        taskId: Type.String({ pattern: '^task_[A-Za-z0-9_-]{1,40}$' }),
        institutionId: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }),
        round: Type.Optional(Type.Integer({ minimum: 1 })),
      }),
    }),
    async (req, reply) => {
      const { taskId, institutionId } = req.query;
      const work = await d.coordinator.getWork(institutionId, taskId);
      const round = req.query.round ?? work.round?.number ?? null;
      let view = null;
      if (round !== null)
        try {
          view = await d.coordinator.secureView(institutionId, taskId, round);
        } catch (err) {
          // A round that is over or not secure has no view; the institution learns that from `work`.
          if (!(err instanceof DureError)) throw err;
        }
      const payload: ServerViewPayload = { taskId, institutionId, issuedAt: Date.now(), work, round, view };
      await appendAudit(d.db, 'airgap.exported', d.actorOf(req), {
        kind: 'server-view',
        taskId,
        institutionId,
        round,
      });
      return reply
        .type('application/json')
        .send(
          await signServerDocument(d.serverKey.privateKey, d.serverKey.publicKey, 'server-view', payload),
        );
    },
  );

  app.get<{ Params: { taskId: string; version: string } }>(
    '/v1/admin/airgap/adapters/:taskId/:version',
    d.route('admin', 'Export a global adapter with its hash as a server-signed file; audited', {
      params: Type.Object({
        taskId: Type.String({ pattern: '^task_[A-Za-z0-9_-]{1,40}$' }),
        version: Type.String({ pattern: '^([0-9]{1,9}|latest)$' }),
      }),
    }),
    async (req, reply) => {
      const { taskId, version } = req.params;
      const found = await d.coordinator.version(taskId, version === 'latest' ? 'latest' : Number(version));
      const file = await found.open();
      const chunks: Buffer[] = [];
      try {
        for await (const c of file.stream()) chunks.push(c);
      } finally {
        await file.close();
      }
      const bytes = new Uint8Array(Buffer.concat(chunks));
      const payload: GlobalAdapterPayload = {
        taskId,
        version: found.version.version,
        sha256: found.version.sha256,
        issuedAt: Date.now(),
        adapter: toBase64Url(bytes),
      };
      await appendAudit(d.db, 'airgap.exported', d.actorOf(req), {
        kind: 'global-adapter',
        taskId,
        version: found.version.version,
      });
      return reply
        .type('application/json')
        .send(
          await signServerDocument(d.serverKey.privateKey, d.serverKey.publicKey, 'global-adapter', payload),
        );
    },
  );
}
