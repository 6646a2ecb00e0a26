import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BundleSet, parsePemCertificates, parseX509Svid, requireSpiffeId, requireTrustDomain, verifyX509Svid } from '../../spiffe';
import { DevCa } from './dev-ca';
import { DevCaSource } from './dev-ca-source';

const H = 3_600_000;
const td = requireTrustDomain('acme.test');
const gateway = requireSpiffeId('spiffe://acme.test/parley/gateway');

function open(dir: string, now: () => number, over: Partial<Parameters<typeof DevCa.open>[0]> = {}) {
  return DevCa.open({ dir, trustDomain: td, caTtlMs: 10 * H, svidTtlMs: H, publishLeadMs: H, now, ...over });
}

describe('DevCa', () => {
  it('creates a CA with private files, issues SVIDs that verify against its bundle, and reuses it on reopen', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'devca-')), 'ca');
    const ca = await open(dir, Date.now);
    const issued = await ca.issue(gateway);
    const svid = parseX509Svid(issued.certPem, issued.keyPem);
    expect(svid.id.equals(gateway)).toBe(true);
    expect(svid.notAfter.getTime() - Date.now()).toBeLessThanOrEqual(H);
    const verified = verifyX509Svid(svid.certChainDer(), new BundleSet([ca.bundle()]), { role: 'client' });
    expect(verified.id.toString()).toBe(gateway.toString());
    expect(verifyX509Svid(svid.certChainDer(), new BundleSet([ca.bundle()]), { role: 'server' }).id.equals(gateway)).toBe(true);

    expect(statSync(dir).mode & 0o777).toBe(0o700);
    const [entry] = ca.entries();
    expect(statSync(join(dir, `ca-${entry.id}.key.pem`)).mode & 0o777).toBe(0o600);

    const again = await open(dir, Date.now);
    expect(again.entries().map((e) => e.id)).toEqual([entry.id]);
    expect(again.bundlePem()).toBe(ca.bundlePem());
  });

  it('refuses IDs of another trust domain and IDs without a path', async () => {
    const ca = await open(join(mkdtempSync(join(tmpdir(), 'devca-')), 'ca'), Date.now);
    await expect(ca.issue(requireSpiffeId('spiffe://partner.test/x'))).rejects.toMatchObject({ code: 'invalid_argument' });
    await expect(ca.issue(td.id())).rejects.toMatchObject({ code: 'invalid_argument' });
  });

  it('refuses a data directory that holds the CA of another trust domain, and a corrupt state file', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'devca-')), 'ca');
    await open(dir, Date.now);
    await expect(DevCa.open({ dir, trustDomain: requireTrustDomain('other.test'), caTtlMs: H, svidTtlMs: H, publishLeadMs: H })).rejects.toMatchObject({ code: 'config_invalid' });
    writeFileSync(join(dir, 'state.json'), '{not json');
    await expect(open(dir, Date.now)).rejects.toMatchObject({ code: 'config_invalid', message: expect.stringContaining('not valid JSON') });
  });

  it('rotates: publishes the next CA before it signs, switches after the lead time, retires the old one after its SVIDs expire', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'devca-')), 'ca');
    let now = Date.now();
    const ca = await open(dir, () => now);
    const first = ca.entries()[0];
    const oldSvid = parseX509Svid(...pair(await ca.issue(gateway)));

    now += 5 * H; // half-life of the 10 h CA
    await ca.rotateIfDue();
    expect(ca.entries().map((e) => e.status)).toEqual(['active', 'published']);
    expect(parsePemCertificates(ca.bundlePem())).toHaveLength(2);
    // Still signed by the first CA while the new one is only published.
    const during = parseX509Svid(...pair(await ca.issue(gateway)));
    expect(during.leaf.verify(parsePemCertificates(readFileSync(join(dir, `ca-${first.id}.cert.pem`), 'utf8'))[0].publicKey)).toBe(true);

    now += H; // publish lead over
    const after = parseX509Svid(...pair(await ca.issue(gateway)));
    const [, second] = ca.entries();
    expect(ca.entries().map((e) => e.status)).toEqual(['previous', 'active']);
    expect(after.leaf.verify(parsePemCertificates(readFileSync(join(dir, `ca-${second.id}.cert.pem`), 'utf8'))[0].publicKey)).toBe(true);
    // Both old and new SVIDs verify against the bundle during the overlap.
    const bundles = new BundleSet([ca.bundle()]);
    for (const s of [during, after]) expect(verifyX509Svid(s.certChainDer(), bundles, { role: 'client', now: new Date(now - 60_000) }).id.equals(gateway)).toBe(true);
    void oldSvid;

    now += H; // every SVID of the first CA has expired
    await ca.rotateIfDue();
    expect(ca.entries().map((e) => e.status)).toEqual(['retired', 'active']);
    expect(parsePemCertificates(ca.bundlePem())).toHaveLength(1);
  });
});

function pair(issued: { certPem: string; keyPem: string }): [string, string] {
  return [issued.certPem, issued.keyPem];
}

describe('DevCaSource', () => {
  it('with no publish lead time, renews at the SVID half-life, not on a 100 ms loop', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'devca-')), 'ca');
    const ca = await open(dir, Date.now, { publishLeadMs: 0 });
    const source = new DevCaSource({ ca, spiffeId: gateway });
    let updates = 0;
    source.onUpdate(() => updates++);
    try {
      await source.start();
      await new Promise((r) => setTimeout(r, 700));
      expect(updates).toBe(1);
    } finally {
      await source.stop();
    }
  });
});
