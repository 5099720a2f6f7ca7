import { afterEach, describe, expect, it, vi } from 'vitest';
import { run as airgap } from './commands/airgap.ts';
import { errorText } from '../protocol/errors.ts';
import { joinStringValues, parseCliArgs } from './args.ts';

const options = {
  'server-key': { type: 'string' },
  'max-tokens': { type: 'string' },
  model: { type: 'string', short: 'm' },
  json: { type: 'boolean' },
} as const;

describe('command-line values that start with a dash', () => {
  it('takes a base64url key or a negative number that starts with "-" as the option value', () => {
    // node:util parseArgs alone refuses these as "ambiguous" (seen in CI: a server key
    // beginning with '-' failed `dure airgap init`, one run in 64).
    const { values } = parseCliArgs({
      args: ['--server-key', '-AbC_9x', '--max-tokens', '-1', '-m', '-odd.gguf', '--json'],
      options,
    });
    expect(values).toEqual({ 'server-key': '-AbC_9x', 'max-tokens': '-1', model: '-odd.gguf', json: true });
  });

  it('leaves a following option, a value with "=", booleans and everything after "--" alone', () => {
    expect(joinStringValues(['--model', '--json'], options)).toEqual(['--model', '--json']);
    expect(joinStringValues(['--model=-a', '--json', '-x'], options)).toEqual(['--model=-a', '--json', '-x']);
    expect(joinStringValues(['--', '--model', '-a'], options)).toEqual(['--', '--model', '-a']);
    // A missing value is still the usage error it was.
    expect(() => parseCliArgs({ args: ['--model', '--json'], options })).toThrow(
      /argument missing|ambiguous/,
    );
  });

  afterEach(() => vi.unstubAllEnvs());

  it('`dure airgap init` accepts a server key that starts with "-"', async () => {
    vi.stubEnv('DURE_AIRGAP_PASSPHRASE', '분리망 금고 암호 correct horse');
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    // A real Ed25519 public key (as the server's /v1/server-key gives) whose base64url starts with '-'.
    let key = '';
    while (!key.startsWith('-')) {
      const pair = (await crypto.subtle.generateKey({ name: 'Ed25519' }, true, ['sign'])) as CryptoKeyPair;
      key = (await crypto.subtle.exportKey('jwk', pair.publicKey)).x!;
    }
    const state = join(mkdtempSync(join(tmpdir(), 'dure-args-')), 'vault');
    const out: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((s: string) => (out.push(String(s)), true)) as typeof process.stdout.write;
    try {
      expect(await airgap(['init', '--state', state, '--server-key', key])).toBe(0);
    } finally {
      process.stdout.write = write;
    }
    expect(JSON.parse(out.join('')).publicKey).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // A mistyped key is refused at once instead of being pinned.
    const err: string[] = [];
    const writeErr = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((s: string) => (err.push(String(s)), true)) as typeof process.stderr.write;
    try {
      expect(await airgap(['init', '--state', `${state}-2`, '--server-key', key.slice(1)])).not.toBe(0);
    } finally {
      process.stderr.write = writeErr;
    }
    expect(err.join('')).toMatch(/AIRGAP_MALFORMED/);
    // The operator also reads it in plain Korean, on its own line.
    expect(err.join('')).toContain(`\n  ${errorText('AIRGAP_MALFORMED', 'ko')}\n`);
  });
});
