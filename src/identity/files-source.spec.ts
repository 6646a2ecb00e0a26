import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireSpiffeId, requireTrustDomain } from '../spiffe';
import { DevCa } from './dev-ca/dev-ca';
import type { IdentitySnapshot } from './domain/identity';
import { FilesSource } from './files-source';

const td = requireTrustDomain('acme.test');
const id = requireSpiffeId('spiffe://acme.test/parley/gateway');

async function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'files-src-'));
  const ca = await DevCa.open({ dir: join(dir, 'ca'), trustDomain: td, caTtlMs: 3_600_000, svidTtlMs: 600_000, publishLeadMs: 60_000 });
  const paths = { cert: join(dir, 'svid.pem'), key: join(dir, 'svid.key'), bundle: join(dir, 'bundle.pem') };
  const write = async () => {
    const issued = await ca.issue(id);
    writeFileSync(paths.cert, issued.certPem);
    writeFileSync(paths.key, issued.keyPem);
    writeFileSync(paths.bundle, ca.bundlePem());
    return issued;
  };
  return { dir, ca, paths, write };
}

const until = async (cond: () => boolean, ms = 3000) => {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  return cond();
};

describe('FilesSource', () => {
  it('loads the pair, follows rotations, and never serves a half-written pair', async () => {
    const { ca, paths, write } = await setup();
    await write();
    const errors: string[] = [];
    const source = new FilesSource({ ...paths, trustDomain: td, pollIntervalMs: 25, onError: (m) => errors.push(m) });
    const first = await source.start();
    const seen: IdentitySnapshot[] = [];
    source.onUpdate((s) => seen.push(s));
    try {
      expect(first.svid.id.equals(id)).toBe(true);

      // Half-written: new certificate, old key. The current SVID stays.
      const next = await ca.issue(id);
      writeFileSync(paths.cert, next.certPem);
      expect(await until(() => errors.length > 0)).toBe(true);
      expect(errors[0]).toMatch(/keeping the current SVID/);
      expect(source.current()?.svid.leaf.serialNumber).toBe(first.svid.leaf.serialNumber);
      expect(seen).toHaveLength(0);

      // The key arrives (atomically renamed into place): the new pair is taken.
      writeFileSync(`${paths.key}.tmp`, next.keyPem);
      renameSync(`${paths.key}.tmp`, paths.key);
      expect(await until(() => seen.length === 1)).toBe(true);
      expect(source.current()?.svid.leaf.serialNumber).not.toBe(first.svid.leaf.serialNumber);
      expect(source.lastError()).toBeUndefined();
    } finally {
      await source.stop();
    }
  });

  it('fails to start with a clear error when a file is missing or not a certificate', async () => {
    const { paths, write } = await setup();
    await expect(new FilesSource({ ...paths, trustDomain: td, pollIntervalMs: 1000 }).start()).rejects.toMatchObject({ message: expect.stringMatching(/cannot read certificate .*svid\.pem \(ENOENT\)/) });
    await write();
    writeFileSync(paths.cert, 'not a pem');
    await expect(new FilesSource({ ...paths, trustDomain: td, pollIntervalMs: 1000 }).start()).rejects.toMatchObject({ code: 'invalid_argument' });
  });

  it('refuses an SVID of another trust domain', async () => {
    const { paths, write } = await setup();
    await write();
    await expect(new FilesSource({ ...paths, trustDomain: requireTrustDomain('other.test'), pollIntervalMs: 1000 }).start()).rejects.toMatchObject({ message: expect.stringContaining('not in trust domain other.test') });
  });
});
