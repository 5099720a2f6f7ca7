/**
 * The offline bundle (`npm run pack:offline`) installs and runs a round with no network: the
 * archive is unpacked and started inside a network namespace that has only a loopback interface
 * (`unshare -n`, as root), far from the repository's node_modules, and one tiny round is run
 * against it there. Any import the bundle missed, or any attempt to reach a registry, fails it.
 * `npm test` builds the web app (dist/) before the unit suite, so the archive is packed here from
 * that build (`--reuse-dist`); DURE_OFFLINE_ARCHIVE may name an archive built beforehand instead.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dependencyClosure, packageOf } from './pack-offline.ts';

const ROOT = resolve(import.meta.dirname, '..');
const TOKEN = 'offline-admin-token-0123456789abcdef';

describe('the offline bundle', () => {
  const work = mkdtempSync(join(tmpdir(), 'dure-offline-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('names packages by their bare import and follows their dependencies', () => {
    expect(packageOf('@noble/hashes/sha2.js')).toBe('@noble/hashes');
    expect(packageOf('fastify')).toBe('fastify');
    expect(packageOf('node:fs')).toBeNull();
    const closure = dependencyClosure(['fastify']);
    expect(closure).toContain('node_modules/fastify');
    expect(closure).toContain('node_modules/pino'); // fastify's logger, a dependency of a dependency
  });

  it('unpacks and runs a round inside a network namespace with no route out', () => {
    // Packed here from the web build `npm test` made, unless one built beforehand is named.
    let archive = process.env['DURE_OFFLINE_ARCHIVE'];
    if (!archive) {
      archive = join(work, 'built.tar.gz');
      execFileSync(
        process.execPath,
        ['--import', 'tsx', 'scripts/pack-offline.ts', '--reuse-dist', '--out', archive],
        {
          cwd: ROOT,
          stdio: 'pipe',
        },
      );
    }
    const script = `
      set -eu
      ip link set lo up
      # Nothing but the loopback, and no route anywhere else.
      [ "$(ip -o link show | wc -l)" = 1 ] || { echo "an interface besides lo" >&2; exit 3; }
      [ -z "$(ip -4 route show)" ] || { echo "an IPv4 route out exists" >&2; exit 3; }
      mkdir -p "$W/install"
      tar -xzf "$ARCHIVE" -C "$W/install"
      cd "$W/install/dure-offline"
      # Bounded on every side, so nothing outlives the test even when it times out.
      DURE_ADMIN_TOKEN="$TOKEN" PORT=8787 DURE_TICK_MS=100 DURE_LOG=off timeout 80 ./start.sh >"$W/server.log" 2>&1 &
      server=$!
      trap 'kill "$server" 2>/dev/null || true' EXIT
      cd "$ROOT"
      status=0
      timeout 75 node --import tsx federated-server/src/testing/offline-round.ts http://127.0.0.1:8787 "$TOKEN" || status=$?
      [ "$status" = 0 ] || { cat "$W/server.log" >&2; exit "$status"; }
    `;
    const r = spawnSync('unshare', ['-n', 'bash', '-c', script], {
      cwd: ROOT,
      env: { ...process.env, W: work, TOKEN, ROOT, ARCHIVE: archive },
      encoding: 'utf8',
      timeout: 85_000,
    });
    const line = r.stdout.trim().split('\n').pop() ?? '';
    expect(line, `exit ${r.status} ${r.signal ?? ''}\n${r.stderr.slice(-3000)}`).toMatch(/^\{/);
    expect(JSON.parse(line)).toEqual({
      state: 'completed',
      rounds: ['closed'],
      participants: 2,
      dashboard: 200,
    });
  }, 90_000);
});
