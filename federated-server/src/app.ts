/**
 * The federated aggregation server as a Fastify instance, built without listening so tests can
 * use `inject` and launchers decide the port. Wires storage, identity, the round engine, the
 * registry, the audit log, metrics, OpenAPI and the admin dashboard together; the logic lives
 * in the modules it imports.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import cors from '@fastify/cors';
import helmet from '@fastify/helmet';
import swagger from '@fastify/swagger';
import { Type } from '@sinclair/typebox';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { BlobIntegrityError, DureError } from '../../src/protocol/errors.ts';
import {
  CreateTaskRequestSchema,
  EnrollRequestSchema,
  RegistryEntrySchema,
  TaskMemberSchema,
  EnrollResponseSchema,
  ErrorResponseSchema,
  TaskSchema,
  UpdateReceiptSchema,
  WorkResponseSchema,
  type CreateTaskRequest,
  type EnrollRequest,
} from '../../src/protocol/schemas.ts';
import {
  HEADER_CONTENT_SHA256,
  HEADER_INSTITUTION,
  HEADER_NONCE,
  HEADER_SIGNATURE,
  HEADER_TIMESTAMP,
} from '../../src/protocol/signing.ts';
import {
  adminActor,
  createAdmin,
  disableAdmin,
  ensureBootstrapAdmin,
  listAdmins,
  verifyAdmin,
  ADMIN_NAME_PATTERN,
  type Admin,
} from './admins.ts';
import { appendAudit, listAudit, verifyAuditChain } from './audit.ts';
import {
  AUDIT_HEAD_FILE,
  exportAuditHead,
  signAuditHead,
  verifyAuditHeadSignature,
  type SignedAuditHead,
} from './audit-head.ts';
import { Coordinator, type CoordinatorOptions, type RoundEvent } from './coordinator.ts';
import { AuthError, ConflictError, FederatedError, NotFoundError } from './errors.ts';
import { SecureRoundViewSchema } from '../../src/protocol/secure-round.ts';
import {
  authenticateSigned,
  createInstitution,
  enroll,
  ENROLLMENT_REPEAT_WINDOW_MS,
  listInstitutions,
  pruneNonces,
  reissueEnrollmentCode,
  revokeInstitution,
} from './identity.ts';
import { FixedWindow } from './limits.ts';
import { Metrics } from './metrics.ts';
import { airgapReplayToken, registerAirgapRoutes } from './airgap-routes.ts';
import { loadServerKey, loadSigningKey } from './server-key.ts';
import { AIRGAP_SIGNATURE_WINDOW_MS } from '../../src/protocol/airgap.ts';
import { addMember, listMembers, removeMember } from './membership.ts';
import { ModelCatalog } from './model-catalog.ts';
import { taskActivity } from './task-activity.ts';
import {
  approveRelease,
  attachEvaluation,
  listReleases,
  publicVersion,
  rejectRelease,
  rollbackStable,
} from './releases.ts';
import { BlobStore } from './storage/blobs.ts';
import { BLOB_KEY_BYTES, parseBlobKey } from './storage/sealed.ts';
import { openDatabase, type Database } from './storage/db.ts';
import { migrate } from './storage/migrations.ts';
import { createOnce } from './storage/create-once.ts';
import { electLeader, soleLeader, type Leadership } from './leader.ts';
import { relayRoundEvents } from './round-events.ts';
import type { TlsMaterial } from './tls.ts';
import { checkReadiness, type ReadinessOptions } from './readiness.ts';
import { exhaustedResource, RETRY_AFTER_SECONDS, unavailableFor } from './storage/resource-faults.ts';

export const SERVER_VERSION = '0.2.0';
/** The file in the data directory holding a generated admin token (mode 0600). */
export const ADMIN_TOKEN_FILE = 'admin-token';
/** The file in the data directory holding a generated blob key when none is configured (0600). */
export const BLOB_KEY_FILE = 'blob-key';
const EMPTY_SHA256 = createHash('sha256').digest('hex');
const JSON_BODY_LIMIT = 1024 * 1024;
/** Registry version and SHA-256 of a downloaded adapter file (src/fl/adapter-feed.ts reads them). */
export const HEADER_ADAPTER_VERSION = 'x-dure-adapter-version';
export const HEADER_ADAPTER_SHA256 = 'x-dure-adapter-sha256';
const PREFLIGHT_MAX_AGE_SECONDS = 600;
/** A numbered version never changes; `latest` moves with every round, so caches must ask first. */
const CACHE_IMMUTABLE = 'public, max-age=31536000, immutable';
const CACHE_REVALIDATE = 'public, no-cache';

/**
 * The paths a browser page of another origin may call: public adapters (the widget), enrolment
 * and the signed institution routes (the institution console). Admin routes, /metrics and the
 * dashboard are same-origin only.
 */
export const isCorsPath = (path: string): boolean =>
  path.startsWith('/v1/public/') ||
  path === '/v1/enroll' ||
  path === '/v1/tasks' ||
  path.startsWith('/v1/tasks/');

/** The strong ETag of an adapter file: its SHA-256, which already names the blob. */
export const adapterETag = (sha256: string): string => `"${sha256}"`;

/**
 * Whether an `If-None-Match` header matches `etag` (RFC 9110 §13.1.2: weak comparison, `*`
 * matches any current representation), i.e. whether the client already holds this file.
 */
export function ifNoneMatchHits(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag);
}

export interface ServerOptions {
  /** Where PGlite (`pglite/`) and blobs (`blobs/`) live. */
  dataDir: string;
  /** Use PostgreSQL instead of PGlite. */
  databaseUrl?: string | undefined;
  /**
   * A configured admin token; without one a token is generated on first start and written to
   * `<dataDir>/admin-token` (mode 0600) — never printed or logged.
   */
  adminToken?: string | undefined;
  /** The bootstrap admin's name in the audit log (`admin:<name>`; DURE_ADMIN_NAME). Default `bootstrap`. */
  adminName?: string | undefined;
  /**
   * The 32-byte key sealing blobs at rest (AES-256-GCM; DURE_BLOB_KEY, base64url). Without one a key
   * is generated on first start into `<dataDir>/blob-key` (0600) and read from there afterwards:
   * that protects copies of the blob directory and backups that leave the key out, not someone
   * holding the whole data directory — configure the key from a secret store in production.
   */
  blobKey?: Uint8Array | undefined;
  /** Bearer token for `/metrics`; without one the endpoint is off (404). */
  metricsToken?: string | undefined;
  /** Structured JSON logs (pino); off in tests. */
  logger?: boolean;
  /**
   * Origins allowed by CORS (exact match), on the routes a browser page of another origin calls:
   * public adapters, enrolment and the signed institution routes; never admin routes. Default:
   * the Vite dev/preview origins on localhost, or none when `production`.
   */
  corsOrigins?: string[];
  /**
   * Where the base models for new tasks are (`*.gguf`, descriptors beside them; DURE_MODELS_DIR).
   * Default `public/models` of this checkout.
   */
  modelsDir?: string | undefined;
  /** The institution console's address, shown with enrolment codes (DURE_CONSOLE_URL). */
  consoleUrl?: string | undefined;
  /** Production: no default CORS origins. Default: `NODE_ENV === 'production'`. */
  production?: boolean;
  /**
   * Requests per minute per client IP (counted before authentication) and, separately, per
   * verified identity (the admin, or one institution) after it. Default 1200.
   */
  rateLimitPerMinute?: number;
  /**
   * Addresses or CIDRs of reverse proxies whose `X-Forwarded-For` names the client (comma-separated).
   * Without it the client IP is the socket's peer and X-Forwarded-For is ignored, so a client
   * cannot pick its own budget.
   */
  trustProxy?: string | undefined;
  /** Failed authentications per client IP within `authFailureWindowMs` before a lockout (429). Default 20. */
  authFailureLimit?: number;
  /** The lockout window. Default 10 minutes. */
  authFailureWindowMs?: number;
  /**
   * Socket timeouts, so a client cannot hold connections open for free: the request line and
   * headers must arrive within `headersTimeoutMs` (default 20 s), the whole request (body
   * included) within `requestTimeoutMs` (default 5 min, room for a large update on a slow link),
   * a socket silent for `idleTimeoutMs` is closed (default 60 s; event streams send a heartbeat
   * every 15 s), and an idle keep-alive socket after `keepAliveTimeoutMs` (default 5 s).
   */
  headersTimeoutMs?: number;
  requestTimeoutMs?: number;
  idleTimeoutMs?: number;
  keepAliveTimeoutMs?: number;
  /** Open event streams (`/v1/tasks/:taskId/events`) one institution may hold. Default 4. */
  streamsPerInstitution?: number;
  /** Round-progress check interval; 0 disables the timer (tests call `coordinator.tick()`). */
  tickMs?: number;
  /**
   * PostgreSQL replicas: how often a follower tries to become the leader (the one process running
   * round timers and aggregation; ./leader.ts). Default 2000 ms (DURE_LEADER_RETRY_MS).
   */
  leaderRetryMs?: number;
  /** Built web assets holding admin.html (Vite's dist/). */
  dashboardDir?: string;
  /** `/readyz` bounds: the database's answer time and the data directory's free space (./readiness.ts). */
  readiness?: ReadinessOptions;
  /** Aggregation's bound on open update files and its backoff after disk-full or EMFILE (./coordinator.ts). */
  coordinator?: CoordinatorOptions;
  /**
   * The Ed25519 key (private JWK file, created 0600 if absent) signing the audit head
   * (DURE_AUDIT_KEY_FILE). Default: the server key in the data directory. Keep it where the
   * database's administrators cannot write.
   */
  auditKeyFile?: string | undefined;
  /** How often a changed audit head is signed and written to `<dataDir>/audit-head.json`. Default 60 s; 0 off. */
  auditHeadIntervalMs?: number;
  /** PEM certificate and key: serve HTTPS directly (DURE_TLS_CERT / DURE_TLS_KEY; see ./tls.ts). */
  tls?: TlsMaterial | undefined;
}

export interface DureServer {
  app: FastifyInstance;
  coordinator: Coordinator;
  db: Database;
  /** Whether this process runs rounds (always on PGlite; the advisory-lock holder on PostgreSQL). */
  leadership: Leadership;
  /** Set only on the first start without a configured token (stored hashed; also in `adminTokenFile`). */
  generatedAdminToken?: string;
  /** Where a generated admin token was written (0600): launchers print this path, never the token. */
  adminTokenFile?: string;
  close(): Promise<void>;
}

type Auth = 'admin' | 'institution' | 'public';

declare module 'fastify' {
  interface FastifyContextConfig {
    auth?: Auth;
  }
  interface FastifyRequest {
    institutionId?: string;
    /** The named admin an admin route was called by (its audit actor is `admin:<name>`). */
    admin?: Admin;
    declaredSha256?: string;
    bodyVerified?: boolean;
    uploadLimit?: number;
  }
}

/** Window of the per-IP and per-identity request budgets. */
const RATE_WINDOW_MS = 60_000;

const SECURITY: Record<Auth, Record<string, string[]>[]> = {
  admin: [{ adminToken: [] }],
  institution: [{ institutionSignature: [] }],
  public: [],
};

interface Upload {
  path: string;
  sha256: string;
  size: number;
}

const sha256hex = (text: string) => createHash('sha256').update(text).digest('hex');
const errorReply = (code: string, message: string) => ({ error: { code, message } });

/** A 429 whose reply carries `Retry-After` (whole seconds, at least 1). */
function rateLimited(waitMs: number, what: string): FederatedError {
  const seconds = Math.max(1, Math.ceil(waitMs / 1000));
  return Object.assign(new FederatedError('RATE_LIMITED', 429, `${what}; retry in ${seconds} s`), {
    retryAfterSeconds: seconds,
  });
}

/** The configured blob key, or the one in `<dataDir>/blob-key`, generated (0600) on first start. */
async function blobKeyFor(opts: ServerOptions): Promise<Uint8Array> {
  if (opts.blobKey) {
    if (opts.blobKey.length !== BLOB_KEY_BYTES)
      throw new BlobIntegrityError('the blob key must be 32 bytes', 'BLOB_KEY');
    return opts.blobKey;
  }
  // Replicas sharing the data directory all read the one key the first of them made.
  return parseBlobKey(
    await createOnce(
      join(opts.dataDir, BLOB_KEY_FILE),
      () => `${randomBytes(BLOB_KEY_BYTES).toString('base64url')}\n`,
    ),
  );
}

/**
 * Opens storage, applies migrations, makes sure an admin token exists, and builds the app.
 * @throws {StorageError} if the database cannot be opened or migrated.
 */
export async function buildServer(opts: ServerOptions): Promise<DureServer> {
  await mkdir(opts.dataDir, { recursive: true });
  const db = await openDatabase({ databaseUrl: opts.databaseUrl, pgliteDir: join(opts.dataDir, 'pglite') });
  await migrate(db);
  const { generated } = await ensureBootstrapAdmin(db, opts.adminToken, opts.adminName);
  const adminTokenFile = join(opts.dataDir, ADMIN_TOKEN_FILE);
  if (generated !== undefined) {
    await rm(adminTokenFile, { force: true }); // a new file gets the mode below, an old one might not
    await writeFile(adminTokenFile, `${generated}\n`, { mode: 0o600 });
    await chmod(adminTokenFile, 0o600); // whatever the umask
  }
  const blobs = await BlobStore.open(join(opts.dataDir, 'blobs'), await blobKeyFor(opts));
  const metrics = new Metrics();
  const leadership = opts.databaseUrl
    ? await electLeader({ databaseUrl: opts.databaseUrl, retryMs: opts.leaderRetryMs })
    : soleLeader;
  const coordinator = new Coordinator(db, blobs, metrics, opts.coordinator, () => leadership.isLeader());
  // Event streams on any replica hear every replica's round transitions.
  const stopRelay = opts.databaseUrl
    ? await relayRoundEvents(opts.databaseUrl, db, coordinator, opts.leaderRetryMs)
    : async () => undefined;
  const serverKey = await loadServerKey(opts.dataDir);
  const auditKey = opts.auditKeyFile ? await loadSigningKey(opts.auditKeyFile) : serverKey;
  const auditHeadFile = join(opts.dataDir, AUDIT_HEAD_FILE);
  const replay = airgapReplayToken();
  const startedAt = Date.now();
  const production = opts.production ?? process.env['NODE_ENV'] === 'production';
  const corsOrigins = new Set(
    opts.corsOrigins ?? (production ? [] : ['http://localhost:5173', 'http://127.0.0.1:5173']),
  );

  const headersTimeout = opts.headersTimeoutMs ?? 20_000;
  const serverOptions = {
    headersTimeout,
    // Node checks the headers and request deadlines on this interval (30 s by default), so a
    // short bound needs a shorter check to hold.
    connectionsCheckingInterval: Math.max(50, Math.min(30_000, Math.floor(headersTimeout / 4))),
  };
  // With TLS material Fastify builds an https.Server (same routes, same socket bounds).
  const app = Fastify({
    logger: opts.logger ?? false,
    bodyLimit: JSON_BODY_LIMIT,
    requestTimeout: opts.requestTimeoutMs ?? 300_000,
    connectionTimeout: opts.idleTimeoutMs ?? 60_000,
    keepAliveTimeout: opts.keepAliveTimeoutMs ?? 5_000,
    trustProxy: opts.trustProxy ?? false,
    ...(opts.tls
      ? { https: { ...serverOptions, cert: opts.tls.cert, key: opts.tls.key } }
      : { http: serverOptions }),
  }) as unknown as FastifyInstance;

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Dure federated aggregation server',
        version: SERVER_VERSION,
        description:
          'Coordinates federated LoRA rounds among enrolled institutions. Admin endpoints need `Authorization: Bearer <admin token>`; ' +
          `institution endpoints need an Ed25519 signature (headers ${HEADER_INSTITUTION}, ${HEADER_TIMESTAMP}, ${HEADER_NONCE}, ` +
          `${HEADER_CONTENT_SHA256}, ${HEADER_SIGNATURE}; see src/protocol/signing.ts).`,
      },
      components: {
        securitySchemes: {
          adminToken: {
            type: 'http',
            scheme: 'bearer',
            description: 'Admin token printed on first start (stored hashed).',
          },
          metricsToken: {
            type: 'http',
            scheme: 'bearer',
            description: 'The configured metrics token (DURE_METRICS_TOKEN).',
          },
          institutionSignature: {
            type: 'apiKey',
            in: 'header',
            name: HEADER_SIGNATURE,
            description:
              'Ed25519 signature over method, path, institution, timestamp, nonce and body SHA-256.',
          },
        },
      },
    },
  });
  // Security headers on every answer (set in onRequest, so refusals and event streams carry them
  // too). Nothing but /admin is a page: the API's policy lets an answer load, run or frame nothing.
  await app.register(helmet, {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'none'"],
        baseUri: ["'none'"],
        formAction: ["'none'"],
        frameAncestors: ["'none'"],
      },
    },
  });
  const corsOptions = {
    allowedHeaders: [
      'authorization',
      'content-type',
      'if-none-match', // the widget's conditional adapter poll
      HEADER_INSTITUTION,
      HEADER_TIMESTAMP,
      HEADER_NONCE,
      HEADER_CONTENT_SHA256,
      HEADER_SIGNATURE,
    ],
    // Browsers hide every response header outside the CORS safelist from other origins' scripts.
    exposedHeaders: ['etag', HEADER_ADAPTER_VERSION, HEADER_ADAPTER_SHA256],
    // If-None-Match makes each poll preflighted; caching the preflight keeps an unchanged poll at
    // one small request most of the time (Chromium caps this at 2 h).
    maxAge: PREFLIGHT_MAX_AGE_SECONDS,
    methods: ['GET', 'POST'],
  };
  await app.register(cors, {
    delegator: (req, cb) => {
      const path = req.url.split('?')[0]!;
      cb(null, {
        ...corsOptions,
        origin: isCorsPath(path)
          ? (origin: string | undefined, done: (err: Error | null, allow: boolean) => void) =>
              done(null, origin === undefined || corsOrigins.has(origin))
          : false,
      });
    },
  });
  // Budgets: by the address the request came from (nothing the client can rotate), checked before
  // authentication; by verified identity after it; and failed authentications, which lock the
  // address out for a window. Unverified headers (x-dure-institution) never choose a budget.
  const rateLimit = opts.rateLimitPerMinute ?? 1200;
  const perIp = new FixedWindow(rateLimit, RATE_WINDOW_MS);
  const perIdentity = new FixedWindow(rateLimit, RATE_WINDOW_MS);
  const authFailures = new FixedWindow(opts.authFailureLimit ?? 20, opts.authFailureWindowMs ?? 600_000);
  /** Routes where a caller proves who it is (and so could guess): signed, admin, enrolment. */
  const guessable = (req: FastifyRequest) =>
    (req.routeOptions.config.auth ?? 'public') !== 'public' ||
    req.routeOptions.url === '/v1/enroll' ||
    req.routeOptions.url === '/metrics';
  const countFailure = (req: FastifyRequest, err: unknown) => {
    if (err instanceof AuthError) authFailures.hit(req.ip);
  };

  // ── event streams: a bounded number per institution, ended on revocation and on close ────────
  const streams = new Map<string, Set<() => void>>();
  const maxStreams = opts.streamsPerInstitution ?? 4;
  const heartbeatMs = Math.max(100, Math.min(15_000, Math.floor((opts.idleTimeoutMs ?? 60_000) / 2)));
  const endStreams = (institutionId?: string) => {
    const ids = institutionId === undefined ? [...streams.keys()] : [institutionId];
    for (const id of ids) for (const end of [...(streams.get(id) ?? [])]) end();
  };
  app.addHook('preClose', async () => endStreams());

  // ── body parsers: bodies of signed requests must match the declared hash ──────────────────
  // Only JSON (bounded by JSON_BODY_LIMIT) and the streamed update body; anything else, text/plain
  // included, is refused with 415 before a byte of it is read.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    'application/json',
    { parseAs: 'string', bodyLimit: JSON_BODY_LIMIT },
    (req, body, done) => {
      const text = body as string;
      if (req.declaredSha256 !== undefined) {
        if (createHash('sha256').update(text).digest('hex') !== req.declaredSha256) {
          done(new AuthError(`body does not match ${HEADER_CONTENT_SHA256}`, 'BAD_SIGNATURE'), undefined);
          return;
        }
        req.bodyVerified = true;
      }
      try {
        done(null, text.length ? JSON.parse(text) : undefined);
      } catch {
        done(new FederatedError('BAD_JSON', 400, 'body is not valid JSON'), undefined);
      }
    },
  );
  app.addContentTypeParser(
    'application/octet-stream',
    async (req: FastifyRequest, payload: NodeJS.ReadableStream): Promise<Upload> => {
      const limit = req.uploadLimit;
      if (limit === undefined)
        throw new FederatedError(
          'UNSUPPORTED_MEDIA_TYPE',
          415,
          'binary bodies are accepted only for updates',
        );
      const path = blobs.tempPath();
      const hash = createHash('sha256');
      let size = 0;
      const meter = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          size += chunk.length;
          if (size > limit)
            cb(new FederatedError('PAYLOAD_TOO_LARGE', 413, `update exceeds the task's ${limit}-byte bound`));
          else {
            hash.update(chunk);
            cb(null, chunk);
          }
        },
      });
      try {
        await pipeline(payload, meter, createWriteStream(path, { mode: 0o600 }));
      } catch (err) {
        await rm(path, { force: true });
        throw err;
      }
      const sha256 = hash.digest('hex');
      if (sha256 !== req.declaredSha256) {
        await rm(path, { force: true });
        throw new AuthError(`body does not match ${HEADER_CONTENT_SHA256}`, 'BAD_SIGNATURE');
      }
      req.bodyVerified = true;
      return { path, sha256, size };
    },
  );

  // ── rate limits and authentication: before the body is read, limits before auth ─────────────
  app.addHook('onRequest', async (req) => {
    const locked = guessable(req) ? authFailures.exhausted(req.ip) : 0;
    if (locked) throw rateLimited(locked, 'too many failed authentications from this address');
    const wait = perIp.hit(req.ip);
    if (wait) throw rateLimited(wait, 'too many requests from this address');
  });
  app.addHook('onRequest', async (req) => {
    const auth = req.routeOptions.config.auth ?? 'public';
    try {
      if (auth === 'admin') req.admin = await verifyAdmin(db, req.headers.authorization);
      if (auth === 'institution') {
        const { institutionId, contentSha256 } = await authenticateSigned(
          db,
          req.headers,
          req.method,
          req.url,
          Date.now(),
          // An air-gapped institution's message imported by an operator (./airgap-routes.ts).
          replay.carries(req) ? AIRGAP_SIGNATURE_WINDOW_MS : undefined,
        );
        req.institutionId = institutionId;
        req.declaredSha256 = contentSha256;
      }
    } catch (err) {
      countFailure(req, err);
      // Failed admin logins are audited (bounded by the lockout above); institutions' are only counted.
      if (auth === 'admin' && err instanceof AuthError)
        await db
          .transaction((tx) =>
            appendAudit(tx, 'admin.login_failed', `ip:${req.ip}`, { route: req.routeOptions.url ?? req.url }),
          )
          .catch((e: unknown) => req.log.error({ err: e }, 'auditing a failed admin login failed'));
      throw err;
    }
    if (auth !== 'public') {
      const wait = perIdentity.hit(
        auth === 'admin' ? `admin|${req.admin!.id}` : `inst|${req.institutionId!}`,
      );
      if (wait) throw rateLimited(wait, 'too many requests for this identity');
    }
  });
  app.addHook('preHandler', async (req) => {
    if (req.declaredSha256 !== undefined && !req.bodyVerified && req.declaredSha256 !== EMPTY_SHA256) {
      throw new AuthError(`body does not match ${HEADER_CONTENT_SHA256}`, 'BAD_SIGNATURE');
    }
  });
  app.addHook('onResponse', async (req, reply) => {
    metrics.httpRequests.inc({
      method: req.method,
      route: req.routeOptions.url ?? 'unmatched',
      status: String(reply.statusCode),
    });
    const body = req.body as Partial<Upload> | undefined;
    if (body && typeof body === 'object' && typeof body.path === 'string' && body.path.endsWith('.part')) {
      await rm(body.path, { force: true }); // an upload the handler never consumed
    }
  });

  app.setErrorHandler((err: unknown, req, reply) => {
    if (err instanceof FederatedError) {
      const retry = (err as { retryAfterSeconds?: number }).retryAfterSeconds;
      if (retry !== undefined) reply.header('retry-after', String(retry));
      return reply.status(err.status).send(errorReply(err.code, err.message));
    }
    if (err instanceof DureError) return reply.status(400).send(errorReply(err.code, err.message));
    const e = err as { statusCode?: number; code?: string; message?: string; validation?: unknown };
    if (e.validation)
      return reply.status(400).send(errorReply('BAD_REQUEST', e.message ?? 'invalid request'));
    if (e.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE')
      return reply.status(415).send(errorReply('UNSUPPORTED_MEDIA_TYPE', 'unsupported content type'));
    const exhausted = exhaustedResource(err);
    if (exhausted) {
      // Disk full or out of descriptors passes: a typed 503 with Retry-After, which clients retry.
      req.log.error({ err }, 'request ran out of disk space or file descriptors');
      const refusal = unavailableFor(exhausted, err);
      return reply
        .status(refusal.status)
        .header('retry-after', String(RETRY_AFTER_SECONDS))
        .send(errorReply(refusal.code, refusal.message));
    }
    if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) {
      return reply.status(e.statusCode).send(errorReply(e.code ?? 'BAD_REQUEST', e.message ?? 'bad request'));
    }
    req.log.error({ err }, 'unhandled error');
    return reply.status(500).send(errorReply('INTERNAL', 'internal server error'));
  });

  const route = (auth: Auth, summary: string, extra: Record<string, unknown> = {}) => ({
    config: { auth },
    schema: {
      summary,
      tags: [auth],
      security: SECURITY[auth],
      ...(auth !== 'public' ? { response: { 401: ErrorResponseSchema } } : {}),
      ...extra,
    },
  });
  const TaskParams = Type.Object({ taskId: Type.String({ pattern: '^task_[A-Za-z0-9_-]{1,40}$' }) });
  const VersionParams = Type.Object({
    taskId: Type.String({ pattern: '^task_[A-Za-z0-9_-]{1,40}$' }),
    version: Type.String({ pattern: '^([0-9]{1,9}|latest)$' }),
  });
  const parseVersion = (v: string) => (v === 'latest' ? 'latest' : Number(v));
  /** The audit actor of an admin route's caller. */
  const actorOf = (req: FastifyRequest) => adminActor(req.admin!);
  const ADAPTER_RESPONSE_HEADERS = {
    etag: { type: 'string', description: 'Strong ETag: the quoted SHA-256 of the file' },
    'cache-control': { type: 'string', description: 'immutable for a numbered version, no-cache for latest' },
    [HEADER_ADAPTER_VERSION]: { type: 'integer', description: 'Registry version of the file' },
    [HEADER_ADAPTER_SHA256]: { type: 'string', description: 'Lower-case hex SHA-256 of the file' },
  };

  /**
   * An adapter file. The public download is cacheable and conditional (a widget polling an
   * unchanged `latest` gets a bodiless 304); signed and admin downloads stay as they were.
   */
  const sendAdapter = async (
    req: FastifyRequest,
    reply: FastifyReply,
    taskId: string,
    version: string,
    isPublic: boolean,
  ) => {
    // The public sees releases only: `latest` is the stable channel, a number only if published.
    // Members and admins get any version (`latest` = the newest aggregate, the training head).
    const asked = parseVersion(version);
    const found = await coordinator.version(
      taskId,
      isPublic ? await publicVersion(db, taskId, asked) : asked,
    );
    if (isPublic && !found.publicAdapters)
      throw new NotFoundError(`task ${taskId} does not publish adapters publicly`);
    reply
      .header(HEADER_ADAPTER_VERSION, found.version.version)
      .header(HEADER_ADAPTER_SHA256, found.version.sha256);
    if (isPublic) {
      const etag = adapterETag(found.version.sha256);
      reply
        .header('etag', etag)
        .header('cache-control', version === 'latest' ? CACHE_REVALIDATE : CACHE_IMMUTABLE);
      if (ifNoneMatchHits(req.headers['if-none-match'], etag)) return reply.code(304).send();
    }
    if (!isPublic)
      await db.transaction((tx) =>
        appendAudit(tx, 'adapter.downloaded', req.admin ? adminActor(req.admin) : req.institutionId!, {
          taskId,
          version: found.version.version,
          sha256: found.version.sha256,
          ...(req.headers.range ? { range: String(req.headers.range).slice(0, 64) } : {}),
        }),
      );
    // Decrypted segment by segment as it is sent; one byte range is served (206) when asked.
    const file = await found.open();
    const size = file.size;
    const range = /^bytes=(\d*)-(\d*)$/.exec(String(req.headers.range ?? '').trim());
    let start = 0;
    let end = size - 1;
    if (range && (range[1] || range[2])) {
      start = range[1] ? Number(range[1]) : Math.max(0, size - Number(range[2]));
      end = range[1] && range[2] ? Math.min(Number(range[2]), size - 1) : size - 1;
      if (start > end || start >= size) {
        await file.close();
        return reply.code(416).header('content-range', `bytes */${size}`).send();
      }
      reply.code(206).header('content-range', `bytes ${start}-${end}/${size}`);
    }
    const body = Readable.from(file.stream(start, end));
    body.on('close', () => void file.close());
    return reply
      .header('content-type', 'application/octet-stream')
      .header('accept-ranges', 'bytes')
      .header('content-length', end - start + 1)
      .header('content-disposition', `attachment; filename="${taskId}-v${found.version.version}.safetensors"`)
      .send(body);
  };

  // ── public ───────────────────────────────────────────────────────────────────────────────
  app.get('/healthz', route('public', 'Liveness'), async () => ({
    status: 'ok',
    service: 'dure-federated-server',
    version: SERVER_VERSION,
    storage: db.kind,
    uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
  }));
  app.get('/livez', route('public', 'Liveness: the process answers (restart it if not)'), async () => ({
    status: 'ok',
  }));
  app.get(
    '/readyz',
    route(
      'public',
      'Readiness: the database answers and the data directory has room; 503 with the reason if not',
    ),
    async (_req, reply) => {
      const r = await checkReadiness(db, opts.dataDir, {
        ...opts.readiness,
        pendingFault: coordinator.resourceFaults.current(),
      });
      return reply.code(r.ready ? 200 : 503).send({ status: r.ready ? 'ready' : 'not ready', ...r });
    },
  );
  const metricsToken = opts.metricsToken ? Buffer.from(sha256hex(opts.metricsToken), 'hex') : undefined;
  const metricsRoute = route('public', 'Prometheus metrics (off unless a metrics token is configured)');
  if (metricsToken)
    app.get(
      '/metrics',
      {
        ...metricsRoute,
        schema: { ...metricsRoute.schema, security: [{ metricsToken: [] }] },
      },
      async (req, reply) => {
        const given = /^Bearer (\S{1,256})$/.exec(req.headers.authorization ?? '')?.[1];
        if (given === undefined || !timingSafeEqual(Buffer.from(sha256hex(given), 'hex'), metricsToken)) {
          const err = new AuthError('metrics token required (Authorization: Bearer …)');
          countFailure(req, err);
          throw err;
        }
        const inst = await db.query<{ status: string; n: number }>(
          'SELECT status, count(*)::integer AS n FROM institutions GROUP BY status',
        );
        const rounds = await db.query<{ state: string; n: number }>(
          'SELECT state, count(*)::integer AS n FROM rounds GROUP BY state',
        );
        const text = metrics.render([
          {
            name: 'dure_institutions',
            help: 'Institutions by status.',
            values: inst.map((r) => ({ labels: { status: r.status }, value: r.n })),
          },
          {
            name: 'dure_rounds',
            help: 'Rounds by state.',
            values: rounds.map((r) => ({ labels: { state: r.state }, value: r.n })),
          },
          {
            name: 'process_resident_memory_bytes',
            help: 'Resident set size.',
            values: [{ value: process.memoryUsage.rss() }],
          },
        ]);
        return reply.header('content-type', 'text/plain; version=0.0.4; charset=utf-8').send(text);
      },
    );
  app.get('/openapi.json', route('public', 'This OpenAPI document'), async () => app.swagger());
  app.post<{ Body: EnrollRequest }>(
    '/v1/enroll',
    route('public', 'Enroll an institution public key with a one-time code', {
      description:
        'Retry-safe: the same code with the same public key, sent again after a lost reply, answers the ' +
        `first enrolment again (until the institution makes its first signed request, at most ${ENROLLMENT_REPEAT_WINDOW_MS / 3_600_000} h). ` +
        'The code with any other key is refused with BAD_ENROLLMENT_CODE.',
      body: EnrollRequestSchema,
      response: { 200: EnrollResponseSchema },
    }),
    async (req) => {
      try {
        const inst = await enroll(db, req.body.code, req.body.publicKey);
        return { institutionId: inst.id, name: inst.name };
      } catch (err) {
        countFailure(req, err); // guessing enrolment codes counts like guessing tokens
        throw err;
      }
    },
  );
  app.get<{ Params: { taskId: string; version: string } }>(
    '/v1/public/tasks/:taskId/adapters/:version',
    route('public', 'Download a global adapter (only for tasks that publish adapters)', {
      description:
        'Conditional: send the `ETag` of the file you hold as `If-None-Match` and an unchanged adapter ' +
        'answers 304 without a body. A numbered version is immutable; `latest` must be revalidated. ' +
        "`latest` is the task's `stable` channel (the version an admin released last); a numbered " +
        'version is served only once it was published (an unapproved candidate is 404).',
      params: VersionParams,
      headers: Type.Object({
        'if-none-match': Type.Optional(
          Type.String({
            maxLength: 8192,
            description: 'ETag(s) of the adapter file the client already holds',
          }),
        ),
      }),
      response: {
        200: {
          description: 'The adapter file (safetensors, PEFT names, Dure metadata)',
          headers: ADAPTER_RESPONSE_HEADERS,
          content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } },
        },
        304: {
          description: 'Not modified: the client already holds this file',
          type: 'null',
          headers: ADAPTER_RESPONSE_HEADERS,
        },
        404: ErrorResponseSchema,
      },
    }),
    async (req, reply) => sendAdapter(req, reply, req.params.taskId, req.params.version, true),
  );

  // ── air-gapped institutions (망연계) ─────────────────────────────────────────────────────
  registerAirgapRoutes(app, { db, coordinator, serverKey, replayToken: replay.token, route, actorOf });

  // ── admin ────────────────────────────────────────────────────────────────────────────────
  app.post<{ Body: { name: string } }>(
    '/v1/admin/institutions',
    route('admin', 'Create an institution and its one-time enrollment code', {
      body: Type.Object(
        { name: Type.String({ minLength: 1, maxLength: 200 }) },
        { additionalProperties: false },
      ),
    }),
    async (req) => createInstitution(db, req.body.name, actorOf(req)),
  );
  app.get('/v1/admin/institutions', route('admin', 'List institutions'), async () => listInstitutions(db));
  app.post<{ Params: { id: string } }>(
    '/v1/admin/institutions/:id/enrollment-code',
    route(
      'admin',
      'A new one-time enrollment code for a pending institution (the old one stops working); audited',
      {
        params: Type.Object({ id: Type.String({ maxLength: 64 }) }),
      },
    ),
    async (req) => reissueEnrollmentCode(db, req.params.id, actorOf(req)),
  );
  const models = new ModelCatalog(
    resolve(opts.modelsDir ?? join(import.meta.dirname, '../../public/models')),
  );
  app.get(
    '/v1/admin/models',
    route('admin', 'Base models a task may use: SHA-256, architecture and module shapes read from each GGUF'),
    async () => models.list(),
  );
  app.get(
    '/v1/admin/deployment',
    route('admin', 'Console and server addresses for enrolment instructions'),
    async (req) => ({
      consoleUrl: opts.consoleUrl ?? null,
      serverUrl: `${req.protocol}://${req.host}`,
    }),
  );
  app.post<{ Params: { id: string }; Body: { reason?: string } | undefined }>(
    '/v1/admin/institutions/:id/revoke',
    route('admin', 'Revoke an institution (its requests and pending updates are refused)', {
      params: Type.Object({ id: Type.String({ maxLength: 64 }) }),
    }),
    async (req) => {
      const result = await revokeInstitution(
        db,
        req.params.id,
        String(req.body?.reason ?? '').slice(0, 500),
        actorOf(req),
      );
      endStreams(req.params.id); // a revoked institution hears nothing more
      return result;
    },
  );
  app.post<{ Body: CreateTaskRequest }>(
    '/v1/admin/tasks',
    route('admin', 'Create a federated task (version-0 adapter is seeded)', {
      body: CreateTaskRequestSchema,
      response: { 200: TaskSchema },
    }),
    async (req) => coordinator.createTask(req.body, actorOf(req)),
  );
  app.get('/v1/admin/tasks', route('admin', 'List tasks'), async () => coordinator.listTasks());
  const MemberParams = Type.Object({
    taskId: TaskParams.properties.taskId,
    institutionId: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }),
  });
  app.get<{ Params: { taskId: string } }>(
    '/v1/admin/tasks/:taskId/members',
    route('admin', "A task's member institutions and their weight caps", {
      params: TaskParams,
      response: { 200: Type.Array(TaskMemberSchema) },
    }),
    async (req) => {
      await coordinator.getTask(req.params.taskId);
      return listMembers(db, req.params.taskId);
    },
  );
  app.post<{ Params: { taskId: string }; Body: { institutionId: string; maxWeight?: number | null } }>(
    '/v1/admin/tasks/:taskId/members',
    route('admin', 'Admit an institution to a task (or change its weight cap); audited', {
      description:
        'Only members see the task, get work, upload and download its adapters. `maxWeight` caps the ' +
        "institution's aggregation weight at min(reported examples, maxWeight); without it every member weighs 1.",
      params: TaskParams,
      body: Type.Object(
        {
          institutionId: MemberParams.properties.institutionId,
          maxWeight: Type.Optional(
            Type.Union([Type.Null(), Type.Number({ exclusiveMinimum: 0, maximum: 1e9 })]),
          ),
        },
        { additionalProperties: false },
      ),
      response: { 200: TaskMemberSchema },
    }),
    async (req) =>
      addMember(db, req.params.taskId, req.body.institutionId, req.body.maxWeight ?? null, actorOf(req)),
  );
  app.delete<{ Params: { taskId: string; institutionId: string } }>(
    '/v1/admin/tasks/:taskId/members/:institutionId',
    route('admin', 'Remove an institution from a task (its update in the open round is withdrawn); audited', {
      params: MemberParams,
    }),
    async (req) => removeMember(db, req.params.taskId, req.params.institutionId, actorOf(req)),
  );
  app.get<{ Params: { taskId: string } }>(
    '/v1/admin/tasks/:taskId',
    route('admin', 'A task with its rounds, participants, metrics and registry versions', {
      params: TaskParams,
    }),
    async (req) => ({
      task: await coordinator.getTask(req.params.taskId),
      privacy: await coordinator.privacyBudget(req.params.taskId),
      rounds: await coordinator.rounds(req.params.taskId),
      versions: await coordinator.versions(req.params.taskId),
    }),
  );
  app.get<{ Params: { taskId: string } }>(
    '/v1/admin/tasks/:taskId/activity',
    route('admin', "Who takes part in the task's current round (names: admins only)", { params: TaskParams }),
    async (req) => {
      await coordinator.getTask(req.params.taskId);
      return taskActivity(db, req.params.taskId);
    },
  );
  app.post<{ Params: { taskId: string } }>(
    '/v1/admin/tasks/:taskId/start',
    route('admin', 'Start a task (opens round 1)', { params: TaskParams }),
    async (req) => coordinator.startTask(req.params.taskId, actorOf(req)),
  );
  app.post<{ Params: { taskId: string } }>(
    '/v1/admin/tasks/:taskId/resume',
    route('admin', 'Resume a failed task: its current round goes on, or the next one opens; audited', {
      params: TaskParams,
    }),
    async (req) => coordinator.resumeTask(req.params.taskId, actorOf(req)),
  );
  app.get<{ Params: { taskId: string; version: string } }>(
    '/v1/admin/tasks/:taskId/adapters/:version',
    route('admin', 'Download a global adapter version', { params: VersionParams }),
    async (req, reply) => sendAdapter(req, reply, req.params.taskId, req.params.version, false),
  );
  app.get<{ Querystring: { after?: number; limit?: number } }>(
    '/v1/admin/audit',
    route('admin', 'Audit log entries after a sequence number', {
      querystring: Type.Object({
        after: Type.Optional(Type.Integer({ minimum: 0 })),
        limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
      }),
    }),
    async (req) => listAudit(db, req.query.after ?? 0, req.query.limit ?? 200),
  );
  app.get(
    '/v1/admin/audit/verify',
    route('admin', 'Recompute the audit hash chain, pinned to the last head this server signed'),
    async () => verifyAuditChain(db, lastHead ? { pinned: lastHead } : {}),
  );
  app.get(
    '/v1/admin/audit/head',
    route(
      'admin',
      'The audit chain head {seq, hash, signature, keyId}, signed by a key the database does not hold',
    ),
    async () => signAuditHead(db, auditKey),
  );

  // ── named admins ─────────────────────────────────────────────────────────────────────────
  app.get('/v1/admin/me', route('admin', 'The admin this token belongs to'), async (req) => req.admin!);
  app.get('/v1/admin/admins', route('admin', 'List admins (never their tokens)'), async () => listAdmins(db));
  app.post<{ Body: { name: string } }>(
    '/v1/admin/admins',
    route('admin', 'Create a named admin with its own token (shown once); audited', {
      body: Type.Object(
        { name: Type.String({ pattern: ADMIN_NAME_PATTERN, maxLength: 64 }) },
        { additionalProperties: false },
      ),
    }),
    async (req) => createAdmin(db, req.body.name, req.admin!),
  );
  app.post<{ Params: { adminId: string } }>(
    '/v1/admin/admins/:adminId/disable',
    route('admin', 'Disable an admin (its token is refused from now on; not the last one); audited', {
      params: Type.Object({ adminId: Type.String({ pattern: '^adm_[A-Za-z0-9_-]{1,40}$' }) }),
    }),
    async (req) => disableAdmin(db, req.params.adminId, req.admin!),
  );

  // ── governed releases: candidate → approved (stable) / rejected; stable rollback ───────────
  const NoteBody = Type.Optional(
    Type.Object({ note: Type.Optional(Type.String({ maxLength: 500 })) }, { additionalProperties: false }),
  );
  const ReleaseParams = Type.Object({
    taskId: TaskParams.properties.taskId,
    version: Type.Integer({ minimum: 0 }),
  });
  app.get<{ Params: { taskId: string } }>(
    '/v1/admin/tasks/:taskId/releases',
    route('admin', 'Every version with its release state, evaluation gate and who decided', {
      params: TaskParams,
    }),
    async (req) => listReleases(db, req.params.taskId),
  );
  app.post<{
    Params: { taskId: string; version: number };
    Body: { passed: boolean; summary: string; metrics?: Record<string, number>; tool?: string };
  }>(
    '/v1/admin/tasks/:taskId/releases/:version/evaluation',
    route('admin', "Attach an operator's evaluation (e.g. from `npx dure eval`) to a candidate; audited", {
      description:
        'An attached evaluation decides the gate instead of the cohort-reported eval loss (a proxy the ' +
        'institutions report of their local models).',
      params: ReleaseParams,
      body: Type.Object(
        {
          passed: Type.Boolean(),
          summary: Type.String({ minLength: 1, maxLength: 500 }),
          metrics: Type.Optional(
            Type.Record(Type.String({ maxLength: 64 }), Type.Number(), { maxProperties: 32 }),
          ),
          tool: Type.Optional(Type.String({ maxLength: 100 })),
        },
        { additionalProperties: false },
      ),
    }),
    async (req) => attachEvaluation(db, req.params.taskId, req.params.version, req.body, req.admin!),
  );
  app.post<{ Params: { taskId: string; version: number }; Body: { note?: string } | undefined }>(
    '/v1/admin/tasks/:taskId/releases/:version/approve',
    route('admin', 'Approve a candidate whose gate passed: publish it on the stable channel; audited', {
      params: ReleaseParams,
      body: NoteBody,
    }),
    async (req) =>
      approveRelease(db, req.params.taskId, req.params.version, req.admin!, req.body?.note ?? ''),
  );
  app.post<{ Params: { taskId: string; version: number }; Body: { note?: string } | undefined }>(
    '/v1/admin/tasks/:taskId/releases/:version/reject',
    route('admin', 'Reject a candidate (never served publicly; training is unaffected); audited', {
      params: ReleaseParams,
      body: NoteBody,
    }),
    async (req) => rejectRelease(db, req.params.taskId, req.params.version, req.admin!, req.body?.note ?? ''),
  );
  app.post<{ Params: { taskId: string }; Body: { version: number; note?: string } }>(
    '/v1/admin/tasks/:taskId/channels/stable/rollback',
    route('admin', 'Roll the stable channel back to an earlier published version; audited', {
      params: TaskParams,
      body: Type.Object(
        { version: Type.Integer({ minimum: 0 }), note: Type.Optional(Type.String({ maxLength: 500 })) },
        { additionalProperties: false },
      ),
    }),
    async (req) => rollbackStable(db, req.params.taskId, req.body.version, req.admin!, req.body.note ?? ''),
  );

  // ── institutions (signed) ────────────────────────────────────────────────────────────────
  app.get('/v1/tasks', route('institution', 'Running tasks this institution is a member of'), async (req) =>
    (await coordinator.memberTasks(req.institutionId!)).map((t) => ({
      id: t.id,
      name: t.name,
      baseModel: t.baseModel,
    })),
  );
  app.get<{ Params: { taskId: string } }>(
    '/v1/tasks/:taskId/work',
    route('institution', 'What to do now for a task (poll)', {
      params: TaskParams,
      response: { 200: WorkResponseSchema },
    }),
    async (req) => coordinator.getWork(req.institutionId!, req.params.taskId),
  );
  app.get<{ Params: { taskId: string } }>(
    '/v1/tasks/:taskId/events',
    route('institution', 'Round state changes as server-sent events (subscribe)', { params: TaskParams }),
    async (req, reply) => {
      await coordinator.requireMember(req.institutionId!, req.params.taskId);
      const institutionId = req.institutionId!;
      const mine = streams.get(institutionId) ?? new Set<() => void>();
      if (mine.size >= maxStreams)
        throw new FederatedError(
          'TOO_MANY_STREAMS',
          429,
          `at most ${maxStreams} open event streams per institution`,
        );
      const end = () => reply.raw.end();
      mine.add(end);
      streams.set(institutionId, mine);
      reply.hijack();
      const origin = req.headers.origin;
      reply.raw.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        connection: 'keep-alive',
        ...(origin && corsOrigins.has(origin)
          ? { 'access-control-allow-origin': origin, vary: 'Origin' }
          : {}),
      });
      reply.raw.write('retry: 5000\n\n'); // sends the headers now, so subscribers see the stream open
      const send = (e: RoundEvent) => {
        if (e.taskId === req.params.taskId) reply.raw.write(`event: round\ndata: ${JSON.stringify(e)}\n\n`);
      };
      let heartbeat: NodeJS.Timeout | undefined = undefined; // set once the stream is live
      let closed = false;
      const cleanup = () => {
        closed = true;
        clearInterval(heartbeat);
        coordinator.off('round', send);
        mine.delete(end);
        if (mine.size === 0 && streams.get(institutionId) === mine) streams.delete(institutionId);
      };
      reply.raw.on('close', cleanup);
      req.raw.on('close', cleanup);
      const work = await coordinator.getWork(institutionId, req.params.taskId);
      if (closed) return; // ended (revoked, closed by the client) while the work was looked up
      if (work.round) send({ taskId: req.params.taskId, round: work.round.number, state: work.round.state });
      coordinator.on('round', send);
      heartbeat = setInterval(() => reply.raw.write(': keep-alive\n\n'), heartbeatMs);
    },
  );
  app.post<{ Params: { taskId: string; round: number }; Body: Upload }>(
    '/v1/tasks/:taskId/rounds/:round/updates',
    {
      ...route(
        'institution',
        'Submit a round update (safetensors body, PEFT names, metadata dure.num_examples)',
        {
          params: Type.Object({ taskId: TaskParams.properties.taskId, round: Type.Integer({ minimum: 1 }) }),
          response: { 200: UpdateReceiptSchema },
        },
      ),
      // The body's bound is the task's upload bound: checked here against Content-Length and again
      // while streaming (a chunked body has no length). Only the octet-stream parser reads it.
      onRequest: async (req: FastifyRequest<{ Params: { taskId: string } }>) => {
        const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
        if (type !== 'application/octet-stream')
          throw new FederatedError(
            'UNSUPPORTED_MEDIA_TYPE',
            415,
            'send the update as application/octet-stream',
          );
        const limit = await coordinator.uploadLimit(req.institutionId!, req.params.taskId);
        const declared = Number(req.headers['content-length'] ?? NaN);
        if (declared > limit)
          throw new FederatedError('PAYLOAD_TOO_LARGE', 413, `update exceeds the task's ${limit}-byte bound`);
        req.uploadLimit = limit;
      },
    },
    async (req) => {
      const body = req.body as Upload | undefined;
      if (!body || typeof body.path !== 'string') {
        throw new FederatedError(
          'UNSUPPORTED_MEDIA_TYPE',
          415,
          'send the update as application/octet-stream',
        );
      }
      return coordinator.submitUpdate(req.institutionId!, req.params.taskId, req.params.round, body);
    },
  );
  // ── secure aggregation phases (src/protocol/secure-round.ts) ──────────────────────────────
  const SecureParams = Type.Object({
    taskId: TaskParams.properties.taskId,
    round: Type.Integer({ minimum: 1 }),
  });
  app.get<{ Params: { taskId: string; round: number } }>(
    '/v1/tasks/:taskId/rounds/:round/secure',
    route(
      'institution',
      "This institution's view of a secure round: phase, roster, its share delivery, the unmask request",
      {
        params: SecureParams,
        response: { 200: SecureRoundViewSchema },
      },
    ),
    async (req) => coordinator.secureView(req.institutionId!, req.params.taskId, req.params.round),
  );
  for (const phase of ['advertise', 'share', 'unmask'] as const) {
    app.post<{ Params: { taskId: string; round: number }; Body: unknown }>(
      `/v1/tasks/:taskId/rounds/:round/secure/${phase}`,
      route('institution', `Secure aggregation: the ${phase} message of this institution (JSON)`, {
        params: SecureParams,
      }),
      async (req) => {
        await coordinator.secureMessage(
          req.institutionId!,
          req.params.taskId,
          req.params.round,
          phase,
          req.body,
        );
        return { ok: true };
      },
    );
  }
  app.post<{ Params: { taskId: string; round: number }; Body: Upload }>(
    '/v1/tasks/:taskId/rounds/:round/secure/masked',
    {
      ...route(
        'institution',
        'Secure aggregation: the masked input (little-endian uint32 words, octet-stream)',
        {
          params: SecureParams,
        },
      ),
      onRequest: async (req: FastifyRequest<{ Params: { taskId: string; round: number } }>) => {
        const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
        if (type !== 'application/octet-stream')
          throw new FederatedError(
            'UNSUPPORTED_MEDIA_TYPE',
            415,
            'send the masked input as application/octet-stream',
          );
        const round = Number(req.params.round);
        if (!Number.isInteger(round) || round < 1) throw new NotFoundError('no such round');
        const limit = await coordinator.maskedInputLimit(req.institutionId!, req.params.taskId, round);
        if (limit === 0)
          throw new ConflictError('this round does not take masked inputs now', 'SECAGG_PHASE_CLOSED');
        const declared = Number(req.headers['content-length'] ?? NaN);
        if (declared > limit)
          throw new FederatedError(
            'PAYLOAD_TOO_LARGE',
            413,
            `masked input exceeds the round's ${limit} bytes`,
          );
        req.uploadLimit = limit;
      },
    },
    async (req) => {
      const body = req.body as Upload | undefined;
      if (!body || typeof body.path !== 'string')
        throw new FederatedError(
          'UNSUPPORTED_MEDIA_TYPE',
          415,
          'send the masked input as application/octet-stream',
        );
      await coordinator.secureMaskedInput(req.institutionId!, req.params.taskId, req.params.round, body);
      return { ok: true };
    },
  );
  app.get<{ Params: { taskId: string } }>(
    '/v1/tasks/:taskId/privacy',
    route(
      'institution',
      "The task's differential-privacy budget: ε target, spent and left (null without DP)",
      {
        params: TaskParams,
      },
    ),
    async (req) => {
      await coordinator.requireMember(req.institutionId!, req.params.taskId);
      return { privacy: await coordinator.privacyBudget(req.params.taskId) };
    },
  );
  app.get<{ Params: { taskId: string } }>(
    '/v1/tasks/:taskId/adapters',
    route('institution', 'Registry: global adapter versions of a task (aggregate facts only)', {
      params: TaskParams,
      response: { 200: Type.Array(RegistryEntrySchema) },
    }),
    async (req) => {
      await coordinator.requireMember(req.institutionId!, req.params.taskId);
      return coordinator.registry(req.params.taskId);
    },
  );
  app.get<{ Params: { taskId: string; version: string } }>(
    '/v1/tasks/:taskId/adapters/:version',
    route('institution', 'Download a global adapter version (safetensors)', { params: VersionParams }),
    async (req, reply) => {
      await coordinator.requireMember(req.institutionId!, req.params.taskId);
      return sendAdapter(req, reply, req.params.taskId, req.params.version, false);
    },
  );

  // ── admin dashboard (the Vite-built admin.html and its assets) ───────────────────────────
  const dashboardDir = resolve(opts.dashboardDir ?? join(import.meta.dirname, '../../dist'));
  app.get(
    '/admin',
    {
      ...route('public', 'Admin dashboard (the page itself; its API calls need the admin token)'),
      // The built page loads only its own scripts and styles and calls only this server.
      helmet: {
        contentSecurityPolicy: {
          useDefaults: false,
          directives: {
            defaultSrc: ["'none'"],
            scriptSrc: ["'self'"],
            styleSrc: ["'self'"],
            imgSrc: ["'self'", 'data:'],
            fontSrc: ["'self'"],
            connectSrc: ["'self'"],
            manifestSrc: ["'self'"],
            objectSrc: ["'none'"],
            baseUri: ["'none'"],
            formAction: ["'none'"],
            frameAncestors: ["'none'"],
          },
        },
      },
    },
    async (_req, reply) => {
      const page = join(dashboardDir, 'admin.html');
      if (!existsSync(page)) throw new NotFoundError('dashboard not built: run `npm run build`');
      return reply.header('content-type', 'text/html; charset=utf-8').send(await readFile(page));
    },
  );
  app.get<{ Params: { file: string } }>(
    '/assets/:file',
    {
      ...route('public', 'Dashboard assets', {
        params: Type.Object({ file: Type.String({ pattern: '^[A-Za-z0-9._-]{1,200}$' }) }),
      }),
      schema: { hide: true },
    },
    async (req, reply) => {
      const file = join(dashboardDir, 'assets', req.params.file);
      if (req.params.file.includes('..') || !existsSync(file)) throw new NotFoundError('no such asset');
      const type = file.endsWith('.js')
        ? 'text/javascript'
        : file.endsWith('.css')
          ? 'text/css'
          : 'application/octet-stream';
      return reply
        .header('content-type', type)
        .header('cache-control', 'public, max-age=31536000, immutable')
        .send(createReadStream(file));
    },
  );

  // ── round progression timer ──────────────────────────────────────────────────────────────
  coordinator.on('resourceFault', (f) =>
    app.log.error(
      {
        during: f.during,
        code: f.code,
        detail: f.detail,
        attempts: f.attempts,
        retryAt: new Date(f.nextRetryAt).toISOString(),
      },
      `${f.ko} / ${f.en}`,
    ),
  );
  const tickMs = opts.tickMs ?? 1000;
  let timer: NodeJS.Timeout | undefined;
  let ticks = 0;
  if (tickMs > 0) {
    let leading = false;
    const loop = () => {
      // Followers only wait: the leader runs every round (and a follower takes over if it dies).
      if (leadership.isLeader() !== leading) {
        leading = !leading;
        app.log.info(
          { leader: leading },
          leading
            ? '이 서버가 라운드를 진행합니다 / this replica is now the leader (runs rounds)'
            : '라운드 진행을 다른 서버에 넘깁니다 / this replica is no longer the leader',
        );
      }
      void (leading ? coordinator.tick() : Promise.resolve())
        .then(() => (++ticks % 60 === 0 ? pruneNonces(db) : undefined))
        .catch((err: unknown) => app.log.error({ err }, 'round tick failed'))
        .finally(() => {
          if (timer) timer = setTimeout(loop, tickMs);
        });
    };
    timer = setTimeout(loop, 0); // resumes rounds a crash left behind
  }

  // ── signed audit head: written out periodically, never over a head the log no longer holds ──
  let lastHead: SignedAuditHead | undefined;
  const previous = await readHeadFile(auditHeadFile);
  if (previous && (await verifyAuditHeadSignature(previous, auditKey.publicKey))) lastHead = previous;
  const exportHead = async () => {
    if (lastHead) {
      // The log must still hold the head exported last; if not, keep that file as evidence.
      const [row] = await db.query<{ hash: string }>('SELECT hash FROM audit_log WHERE seq = $1', [
        lastHead.seq,
      ]);
      if (lastHead.seq > 0 && row?.hash !== lastHead.hash) {
        app.log.error(
          { seq: lastHead.seq },
          '감사 로그가 서명된 헤드보다 뒤로 돌아갔거나 바뀌었습니다 / the audit log no longer holds its signed head (rolled back or rewritten)',
        );
        return;
      }
      const [last] = await db.query<{ seq: number }>('SELECT max(seq)::integer AS seq FROM audit_log');
      if ((last?.seq ?? 0) === lastHead.seq) return; // unchanged
    }
    lastHead = await exportAuditHead(db, auditKey, auditHeadFile);
    app.log.info({ auditHead: lastHead }, 'audit head signed');
  };
  await exportHead();
  const headEvery = opts.auditHeadIntervalMs ?? 60_000;
  const headTimer =
    headEvery > 0
      ? setInterval(
          () => void exportHead().catch((err: unknown) => app.log.error({ err }, 'audit head export failed')),
          headEvery,
        ).unref()
      : undefined;

  let closed = false;
  return {
    app,
    coordinator,
    db,
    leadership,
    ...(generated ? { generatedAdminToken: generated, adminTokenFile } : {}),
    async close() {
      if (closed) return;
      closed = true;
      clearTimeout(timer);
      clearInterval(headTimer);
      timer = undefined;
      await app.close();
      if (leadership.isLeader()) await coordinator.tick().catch(() => undefined);
      await leadership.close();
      await stopRelay();
      await exportHead().catch(() => undefined); // the last word on what the log held
      await db.close();
    },
  };
}

/** The head file written last, or undefined if there is none or it does not parse. */
async function readHeadFile(file: string): Promise<SignedAuditHead | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as SignedAuditHead;
  } catch {
    return undefined;
  }
}
