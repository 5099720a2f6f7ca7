/**
 * Air-gapped institutions (망연계): the files that carry a secure round across a network
 * separation through the approved transfer system, one small file per phase.
 *
 * - Institution → server: an *institution message*, the exact signed HTTP request the online
 *   client would send (method, path, the signing headers, the body), recorded instead of sent. The
 *   operator imports it and the server replays it through its own route, so the signature,
 *   membership, phase, size and replay checks are the HTTP route's, never a side door.
 * - Server → institution: a *server document* (the institution's view of a round, or a global
 *   adapter) signed with the server's Ed25519 key, which the institution pins once.
 *
 * Every file is a versioned JSON object; a reader checks the size, the format, then the signature
 * or hash, then that it is for the task, round, institution and step it expects, before anything
 * in it is used.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { fromBase64Url, toBase64Url } from './base64url.ts';
import { AirgapFileError } from './errors.ts';
import {
  HEADER_CONTENT_SHA256,
  HEADER_INSTITUTION,
  HEADER_NONCE,
  HEADER_SIGNATURE,
  HEADER_TIMESTAMP,
  importPublicKey,
  sha256Hex,
  signRequest,
  verifySignature,
} from './signing.ts';
import { MAX_VECTOR_LENGTH } from './secagg/schemas.ts';

export const AIRGAP_FORMAT = 'dure-airgap/1';

/** Largest air-gap file: a masked input of the most coordinates a round allows, base64url, plus JSON. */
export const MAX_AIRGAP_FILE_BYTES = Math.ceil((MAX_VECTOR_LENGTH * 4 * 4) / 3) + 64 * 1024;

/**
 * How old a signed institution message may be when it is imported: the time the file spends in
 * transfer (a working day or a weekend), instead of the online client's five minutes.
 */
export const AIRGAP_SIGNATURE_WINDOW_MS = 7 * 24 * 3600 * 1000;

/** The secure-round steps an institution sends, by the last segment of their route. */
export const AirgapPhaseSchema = Type.Union([
  Type.Literal('advertise'),
  Type.Literal('share'),
  Type.Literal('masked'),
  Type.Literal('unmask'),
]);
export type AirgapPhase = Static<typeof AirgapPhaseSchema>;

const TaskId = Type.String({ pattern: '^task_[A-Za-z0-9_-]{1,40}$' });
const InstitutionId = Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' });

export const InstitutionMessageSchema = Type.Object(
  {
    format: Type.Literal(AIRGAP_FORMAT),
    kind: Type.Literal('institution-message'),
    taskId: TaskId,
    round: Type.Integer({ minimum: 1 }),
    phase: AirgapPhaseSchema,
    institutionId: InstitutionId,
    request: Type.Object(
      {
        method: Type.Literal('POST'),
        path: Type.String({ maxLength: 200 }),
        contentType: Type.Union([Type.Literal('application/json'), Type.Literal('application/octet-stream')]),
        headers: Type.Object(
          {
            [HEADER_INSTITUTION]: Type.String({ maxLength: 64 }),
            [HEADER_TIMESTAMP]: Type.String({ maxLength: 16 }),
            [HEADER_NONCE]: Type.String({ maxLength: 64 }),
            [HEADER_CONTENT_SHA256]: Type.String({ pattern: '^[0-9a-f]{64}$' }),
            [HEADER_SIGNATURE]: Type.String({ maxLength: 128 }),
          },
          { additionalProperties: false },
        ),
        body: Type.String({ pattern: '^[A-Za-z0-9_-]*$' }),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
export type InstitutionMessage = Static<typeof InstitutionMessageSchema>;

export const ServerDocumentSchema = Type.Object(
  {
    format: Type.Literal(AIRGAP_FORMAT),
    kind: Type.Union([Type.Literal('server-view'), Type.Literal('global-adapter')]),
    /** First 16 hex digits of the SHA-256 of the server's raw public key. */
    keyId: Type.String({ pattern: '^[0-9a-f]{16}$' }),
    /** The signed JSON text, kept as text so the signed bytes are exactly these. */
    payload: Type.String(),
    signature: Type.String({ pattern: '^[A-Za-z0-9_-]{86}$' }),
  },
  { additionalProperties: false },
);
export type ServerDocument = Static<typeof ServerDocumentSchema>;
export type ServerDocumentKind = ServerDocument['kind'];

/** The route an institution message replays. */
export function airgapPath(taskId: string, round: number, phase: AirgapPhase): string {
  return `/v1/tasks/${taskId}/rounds/${round}/secure/${phase}`;
}

/**
 * Parses an air-gap file: size first, then JSON and the schema.
 * @throws {AirgapFileError} AIRGAP_TOO_LARGE, AIRGAP_MALFORMED.
 */
function parseFile<T extends TSchema>(schema: T, file: Uint8Array | string, what: string): Static<T> {
  const size = typeof file === 'string' ? file.length : file.byteLength;
  if (size > MAX_AIRGAP_FILE_BYTES)
    throw new AirgapFileError(
      `${what} has ${size} bytes, at most ${MAX_AIRGAP_FILE_BYTES}`,
      'AIRGAP_TOO_LARGE',
    );
  let doc: unknown;
  try {
    doc = JSON.parse(
      typeof file === 'string' ? file : new TextDecoder('utf-8', { fatal: true }).decode(file),
    );
  } catch (cause) {
    throw new AirgapFileError(`${what} is not complete JSON (truncated?)`, 'AIRGAP_MALFORMED', { cause });
  }
  if (!Value.Check(schema, doc)) {
    const first = [...Value.Errors(schema, doc)][0];
    throw new AirgapFileError(
      `${what} is not a ${AIRGAP_FORMAT} file${first ? ` (${first.path || '/'}: ${first.message})` : ''}`,
      'AIRGAP_MALFORMED',
    );
  }
  return doc;
}

// ── institution → server ────────────────────────────────────────────────────────────────────

/**
 * Records one signed phase message as a file: the same request, signed the same way, that the
 * online client sends (src/protocol/signing.ts).
 * @throws {SignatureError} if signing fails.
 */
export async function sealInstitutionMessage(input: {
  privateKey: CryptoKey;
  institutionId: string;
  taskId: string;
  round: number;
  phase: AirgapPhase;
  /** JSON body (advertise, share, unmask) or the masked words (masked). */
  body: unknown;
  now?: number;
}): Promise<string> {
  const path = airgapPath(input.taskId, input.round, input.phase);
  const bytes =
    input.phase === 'masked'
      ? (input.body as Uint8Array)
      : new TextEncoder().encode(JSON.stringify(input.body));
  const headers = await signRequest(input.privateKey, input.institutionId, 'POST', path, bytes, input.now);
  const message: InstitutionMessage = {
    format: AIRGAP_FORMAT,
    kind: 'institution-message',
    taskId: input.taskId,
    round: input.round,
    phase: input.phase,
    institutionId: input.institutionId,
    request: {
      method: 'POST',
      path,
      contentType: input.phase === 'masked' ? 'application/octet-stream' : 'application/json',
      headers: headers as InstitutionMessage['request']['headers'],
      body: toBase64Url(bytes),
    },
  };
  return JSON.stringify(message);
}

/**
 * Reads an institution message and checks that it is self-consistent: its labels match the
 * signed path and signer, and its body matches the signed hash (a tampered body is caught here;
 * the signature itself is checked by the server's route, or by {@link verifyInstitutionMessage}).
 * @throws {AirgapFileError} AIRGAP_TOO_LARGE, AIRGAP_MALFORMED, AIRGAP_BAD_SIGNATURE.
 */
export async function openInstitutionMessage(
  file: Uint8Array | string,
): Promise<{ message: InstitutionMessage; body: Uint8Array }> {
  const message = parseFile(InstitutionMessageSchema, file, 'institution message');
  const { request } = message;
  if (request.path !== airgapPath(message.taskId, message.round, message.phase))
    throw new AirgapFileError(
      "the message's route does not match its task, round and phase",
      'AIRGAP_BAD_SIGNATURE',
    );
  if (request.headers[HEADER_INSTITUTION] !== message.institutionId)
    throw new AirgapFileError(
      'the message is labelled with another institution than its signer',
      'AIRGAP_BAD_SIGNATURE',
    );
  if ((message.phase === 'masked') !== (request.contentType === 'application/octet-stream'))
    throw new AirgapFileError('the body type does not fit the phase', 'AIRGAP_MALFORMED');
  const body = fromBase64Url(request.body);
  if (!body) throw new AirgapFileError('the body is not base64url', 'AIRGAP_MALFORMED');
  if ((await sha256Hex(body)) !== request.headers[HEADER_CONTENT_SHA256])
    throw new AirgapFileError('the body does not match its signed hash', 'AIRGAP_BAD_SIGNATURE');
  return { message, body };
}

/** True when the message's signature verifies with the institution's public key (base64url). */
export async function verifyInstitutionMessage(
  message: InstitutionMessage,
  publicKey: string,
): Promise<boolean> {
  const h = message.request.headers;
  return verifySignature(
    await importPublicKey(publicKey),
    {
      method: message.request.method,
      path: message.request.path,
      institutionId: h[HEADER_INSTITUTION],
      timestamp: h[HEADER_TIMESTAMP],
      nonce: h[HEADER_NONCE],
      contentSha256: h[HEADER_CONTENT_SHA256],
    },
    h[HEADER_SIGNATURE],
  );
}

// ── server → institution ────────────────────────────────────────────────────────────────────

const SERVER_SIGNATURE_VERSION = 'DURE-AIRGAP-SERVER-V1';

function serverSignedBytes(kind: ServerDocumentKind, payload: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(`${SERVER_SIGNATURE_VERSION}\n${kind}\n${payload}`);
}

/** The key id of a raw Ed25519 public key (base64url). */
export async function serverKeyId(publicKey: string): Promise<string> {
  const raw = fromBase64Url(publicKey);
  if (!raw) throw new AirgapFileError('the server key is not base64url', 'AIRGAP_MALFORMED');
  return (await sha256Hex(raw)).slice(0, 16);
}

/** Signs a server document (the server's view of a round, or a global adapter). */
export async function signServerDocument(
  privateKey: CryptoKey,
  publicKey: string,
  kind: ServerDocumentKind,
  payload: unknown,
): Promise<string> {
  const text = JSON.stringify(payload);
  const sig = new Uint8Array(
    await crypto.subtle.sign({ name: 'Ed25519' }, privateKey, serverSignedBytes(kind, text)),
  );
  const doc: ServerDocument = {
    format: AIRGAP_FORMAT,
    kind,
    keyId: await serverKeyId(publicKey),
    payload: text,
    signature: toBase64Url(sig),
  };
  return JSON.stringify(doc);
}

/**
 * Opens a server document with the server key the institution pinned: size, format, kind, then
 * the signature, and only then the payload.
 * @throws {AirgapFileError} AIRGAP_TOO_LARGE, AIRGAP_MALFORMED, AIRGAP_WRONG_PHASE (another kind
 *   of document), AIRGAP_BAD_SIGNATURE (another server's key, or altered).
 */
export async function openServerDocument(
  file: Uint8Array | string,
  kind: ServerDocumentKind,
  serverPublicKey: string,
): Promise<unknown> {
  const doc = parseFile(ServerDocumentSchema, file, 'server file');
  if (doc.kind !== kind)
    throw new AirgapFileError(`this is a ${doc.kind} file, a ${kind} file is needed`, 'AIRGAP_WRONG_PHASE');
  if (doc.keyId !== (await serverKeyId(serverPublicKey)))
    throw new AirgapFileError('the file was signed by another server key', 'AIRGAP_BAD_SIGNATURE');
  const key = await importPublicKey(serverPublicKey);
  const sig = fromBase64Url(doc.signature)!;
  let ok = false;
  try {
    ok = await crypto.subtle.verify(
      { name: 'Ed25519' },
      key,
      sig as Uint8Array<ArrayBuffer>,
      serverSignedBytes(doc.kind, doc.payload),
    );
  } catch {
    ok = false;
  }
  if (!ok) throw new AirgapFileError("the server's signature does not verify", 'AIRGAP_BAD_SIGNATURE');
  try {
    return JSON.parse(doc.payload) as unknown;
  } catch (cause) {
    throw new AirgapFileError('the signed payload is not JSON', 'AIRGAP_MALFORMED', { cause });
  }
}

/** What the server says to one institution about a task's round (`kind: 'server-view'`). */
export interface ServerViewPayload {
  taskId: string;
  institutionId: string;
  /** Milliseconds since the epoch; an institution refuses a view older than one it used. */
  issuedAt: number;
  /** The task's work response for this institution (fit instructions of the open round). */
  work: unknown;
  /** The round the view is of, and the view (null before the round has secure state). */
  round: number | null;
  view: unknown;
}

/** A global adapter as members download it (`kind: 'global-adapter'`). */
export interface GlobalAdapterPayload {
  taskId: string;
  version: number;
  /** Lower-case hex SHA-256 of the adapter file (the download's x-dure-adapter-sha256). */
  sha256: string;
  issuedAt: number;
  /** The safetensors file, base64url. */
  adapter: string;
}

/**
 * Opens a global adapter file: the server's signature, then the adapter's hash, then the task.
 * @throws {AirgapFileError} as {@link openServerDocument}; AIRGAP_BAD_SIGNATURE when the adapter
 *   does not match its hash, AIRGAP_WRONG_TASK for another task.
 */
export async function openGlobalAdapter(
  file: Uint8Array | string,
  serverPublicKey: string,
  expect: { taskId?: string } = {},
): Promise<{ taskId: string; version: number; sha256: string; bytes: Uint8Array }> {
  const p = (await openServerDocument(file, 'global-adapter', serverPublicKey)) as GlobalAdapterPayload;
  const bytes = typeof p?.adapter === 'string' ? fromBase64Url(p.adapter) : undefined;
  if (!bytes || typeof p.sha256 !== 'string' || !Number.isInteger(p.version))
    throw new AirgapFileError('the adapter file is incomplete', 'AIRGAP_MALFORMED');
  if ((await sha256Hex(bytes)) !== p.sha256)
    throw new AirgapFileError('the adapter does not match its hash', 'AIRGAP_BAD_SIGNATURE');
  if (expect.taskId !== undefined && p.taskId !== expect.taskId)
    throw new AirgapFileError(
      `the adapter is for task ${p.taskId}, not ${expect.taskId}`,
      'AIRGAP_WRONG_TASK',
    );
  return { taskId: p.taskId, version: p.version, sha256: p.sha256, bytes };
}
