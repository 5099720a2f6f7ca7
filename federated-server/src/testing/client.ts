/**
 * A minimal signed client for tests and the load benchmark, over any transport (Fastify's
 * `inject` or real HTTP). The browser client will use the same src/protocol/ helpers.
 */
import { generateInstitutionKeyPair, signRequest } from '../../../src/protocol/signing.ts';
import { writeSafetensors, type NamedTensor } from '../../../src/protocol/safetensors.ts';
import { UPDATE_META } from '../../../src/protocol/schemas.ts';

export interface Reply {
  status: number;
  body: Uint8Array;
  headers: Record<string, string>;
  json<T = unknown>(): T;
}

export type Transport = (
  method: string,
  url: string,
  headers: Record<string, string>,
  body?: Uint8Array | string,
) => Promise<Reply>;

export function makeReply(status: number, body: Uint8Array, headers: Record<string, string>): Reply {
  return { status, body, headers, json: <T>() => JSON.parse(new TextDecoder().decode(body)) as T };
}

/** HTTP over fetch to a listening server. */
export function httpTransport(base: string): Transport {
  return async (method, url, headers, body) => {
    const res = await fetch(base + url, {
      method,
      headers,
      ...(body !== undefined ? { body: body as BodyInit } : {}),
    });
    const out: Record<string, string> = {};
    res.headers.forEach((v, k) => (out[k] = v));
    return makeReply(res.status, new Uint8Array(await res.arrayBuffer()), out);
  };
}

export class AdminClient {
  constructor(
    private readonly send: Transport,
    private readonly token: string,
  ) {}
  async call<T = unknown>(method: string, url: string, body?: unknown): Promise<T> {
    const r = await this.raw(method, url, body);
    if (r.status !== 200)
      throw new Error(`${method} ${url} → ${r.status} ${new TextDecoder().decode(r.body)}`);
    return r.json<T>();
  }
  raw(method: string, url: string, body?: unknown): Promise<Reply> {
    return this.send(
      method,
      url,
      {
        authorization: `Bearer ${this.token}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      body !== undefined ? JSON.stringify(body) : undefined,
    );
  }
}

export class InstitutionClient {
  private constructor(
    private readonly send: Transport,
    readonly id: string,
    private readonly key: CryptoKey,
  ) {}

  /** Creates an institution through the admin, then enrolls a fresh key pair with the code. */
  static async enroll(send: Transport, admin: AdminClient, name: string): Promise<InstitutionClient> {
    const { enrollmentCode } = await admin.call<{ enrollmentCode: string }>(
      'POST',
      '/v1/admin/institutions',
      { name },
    );
    const { privateKey, publicKey } = await generateInstitutionKeyPair();
    const r = await send(
      'POST',
      '/v1/enroll',
      { 'content-type': 'application/json' },
      JSON.stringify({ code: enrollmentCode, publicKey }),
    );
    if (r.status !== 200) throw new Error(`enroll → ${r.status} ${new TextDecoder().decode(r.body)}`);
    return new InstitutionClient(send, r.json<{ institutionId: string }>().institutionId, privateKey);
  }

  /** Signs and sends; `contentType` defaults to JSON for string bodies, octet-stream for bytes. */
  async request(
    method: string,
    url: string,
    body?: Uint8Array | string,
    extraHeaders: Record<string, string> = {},
  ): Promise<Reply> {
    const headers = await this.signedHeaders(method, url, body);
    if (body !== undefined)
      headers['content-type'] = typeof body === 'string' ? 'application/json' : 'application/octet-stream';
    return this.send(method, url, { ...headers, ...extraHeaders }, body);
  }

  signedHeaders(
    method: string,
    url: string,
    body?: Uint8Array | string,
    now?: number,
  ): Promise<Record<string, string>> {
    return signRequest(this.key, this.id, method, url, body, now);
  }

  /** Uploads an update built from tensors with the given example count. */
  uploadUpdate(
    taskId: string,
    round: number,
    tensors: NamedTensor[],
    numExamples: number,
    trainLoss?: number,
    evalLoss?: number,
  ): Promise<Reply> {
    const meta: Record<string, string> = {
      [UPDATE_META.numExamples]: String(numExamples),
      [UPDATE_META.round]: String(round),
    };
    if (trainLoss !== undefined) meta[UPDATE_META.trainLoss] = String(trainLoss);
    if (evalLoss !== undefined) meta[UPDATE_META.evalLoss] = String(evalLoss);
    return this.request(
      'POST',
      `/v1/tasks/${taskId}/rounds/${round}/updates`,
      writeSafetensors(tensors, meta),
    );
  }
}
