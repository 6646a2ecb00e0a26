/**
 * acme.test serves its bundle over https_web (a web server certificate from a test CA, for
 * 127.0.0.1); partner.test federates with it by that profile and the CA's root. A partner
 * workload pulls from acme, its push is refused. Then acme rotates to a new CA with no
 * publication lead time, long before partner's next regular poll (acme's hint is 5 min):
 * the first acme workload with an SVID of the new CA is refused by partner, that refusal
 * makes partner fetch acme's bundle early, and a retry moments later gets in.
 */
import 'reflect-metadata';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { status } from '@grpc/grpc-js';
import * as x509 from '@peculiar/x509';
import type { StoreClient } from '../../../src/store';
import { startTestGateway, type TestGateway } from '../../support/gateway';
import {
  ACME,
  bundleEndpointEnv,
  federate,
  gatewayCa,
  grpcCode,
  heldAuthorities,
  issueSvid,
  metricValue,
  PARTNER,
  payload,
  publishedAuthorities,
  storeClient,
  workloadClient,
} from '../../support/federation';
import { waitFor } from '../../support/ports';
import { Eku, TestCa } from '../../support/test-ca';
import { FederationService } from '../../../src/federation';
import { TrustStore } from '../../../src/trust';

jest.setTimeout(150_000);

describe('https_web federation, and an early refresh when acme rotates without lead time', () => {
  let dir: string;
  let webCa: TestCa;
  let acme: TestGateway;
  let partner: TestGateway;
  let cid: string;
  const clients: StoreClient[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'parley-e2e-web-'));
    webCa = await TestCa.create({ trustDomain: 'web-pki.test', uri: null, subject: 'CN=Parley Test Web Root' });
    const web = await webCa.issueSvid({
      uris: [],
      subject: 'CN=127.0.0.1',
      ekus: [Eku.serverAuth],
      extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'ip', value: '127.0.0.1' }], false)],
    });
    writeFileSync(join(dir, 'web.pem'), web.chainPem);
    writeFileSync(join(dir, 'web.key'), web.keyPem, { mode: 0o600 });
    [acme, partner] = await Promise.all([
      startTestGateway(
        bundleEndpointEnv(ACME, {
          PARLEY_FEDERATION_BUNDLE_ENDPOINT_PROFILE: 'https_web',
          PARLEY_FEDERATION_BUNDLE_ENDPOINT_WEB_CERT_FILE: join(dir, 'web.pem'),
          PARLEY_FEDERATION_BUNDLE_ENDPOINT_WEB_KEY_FILE: join(dir, 'web.key'),
          // CA lifetime 80 s: the next CA comes at its half-life, 10 s after start, and signs at once.
          PARLEY_IDENTITY_DEV_CA_CA_TTL: '80s',
          PARLEY_IDENTITY_DEV_CA_SVID_TTL: '30s',
          PARLEY_IDENTITY_DEV_CA_CA_PUBLISH_LEAD: '0ms',
        }),
      ),
      startTestGateway(bundleEndpointEnv(PARTNER)),
    ]);
    await partner.gateway.get(FederationService).create({ trustDomain: ACME, profile: 'https_web', endpointUrls: [`https://127.0.0.1:${acme.gateway.listeners.bundleEndpoint!.port}/`], caRootsPem: webCa.certPem });
    await federate(acme, partner);
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await Promise.all([acme?.stop(), partner?.stop()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('partner fetches acme\'s bundle over https_web: a partner workload pulls, its push is PERMISSION_DENIED', async () => {
    const s = await partner.gateway.get(FederationService).refreshNow(ACME);
    expect(s).toMatchObject({ profile: 'https_web', state: 'ready', refreshHint: 300 });
    expect(heldAuthorities(partner, ACME)).toEqual(publishedAuthorities(acme));

    const trainer = await workloadClient(acme, '/ns/ml/sa/trainer', acme);
    clients.push(trainer);
    const data = payload(4096);
    cid = await trainer.push({ namespace: 'ml/models', media_type: 'application/octet-stream', annotations: {} }, data);
    const puller = await workloadClient(partner, '/ns/ml/sa/puller', acme);
    clients.push(puller);
    expect((await puller.pullAll(cid)).data.equals(data)).toBe(true);
    expect(await grpcCode(puller.push({ namespace: 'ml/models', media_type: 'text/plain', annotations: {} }, Buffer.from('x')))).toBe(status.PERMISSION_DENIED);
  });

  it('a web certificate from another CA is refused (reason tls) and the held bundle kept', async () => {
    const other = await TestCa.create({ trustDomain: 'other-pki.test', uri: null });
    const before = heldAuthorities(partner, ACME);
    await partner.gateway.get(FederationService).update(ACME, { profile: 'https_web', endpointUrls: [`https://127.0.0.1:${acme.gateway.listeners.bundleEndpoint!.port}/`], caRootsPem: other.certPem });
    const s = await partner.gateway.get(FederationService).refreshNow(ACME);
    expect(s).toMatchObject({ state: 'stale', lastError: { reason: 'tls' } });
    expect(heldAuthorities(partner, ACME)).toEqual(before);
    await partner.gateway.get(FederationService).update(ACME, { profile: 'https_web', endpointUrls: [`https://127.0.0.1:${acme.gateway.listeners.bundleEndpoint!.port}/`], caRootsPem: webCa.certPem });
    expect((await partner.gateway.get(FederationService).refreshNow(ACME)).state).toBe('ready');
  });

  it('a refused handshake of a new, unknown acme CA triggers an early refresh; a retry succeeds well before the regular poll', async () => {
    const initial = new Set(publishedAuthorities(acme));
    const owner = await workloadClient(partner, '/ns/data/sa/publisher', partner);
    clients.push(owner);
    const partnerCid = await owner.push({ namespace: 'shared', media_type: 'text/plain', annotations: {} }, Buffer.from('partner data'));

    // acme rotates: the new CA signs as soon as it is published (bounded wait: half-life 10 s after start).
    const newCa = await waitFor(() => publishedAuthorities(acme).find((fp) => !initial.has(fp)), 60_000, 50);
    expect(gatewayCa(acme).entries().find((e) => e.status === 'active')?.id).toBe(newCa.slice(0, 16));
    const regular = await partner.gateway.get(FederationService).status(ACME);
    expect(heldAuthorities(partner, ACME)).not.toContain(newCa);
    expect(new Date(regular.nextPollAt!).getTime() - Date.now()).toBeGreaterThan(60_000);
    const refusedBefore = await metricValue(partner, 'parley_grpc_connections_refused_total', { reason: 'chain_unverified' });

    const svid = await issueSvid(acme, '/ns/ml/sa/reader');
    const attempt = async () => {
      const c = storeClient(svid, acme.gateway.get(TrustStore), partner);
      try {
        return await grpcCode(c.pullAll(partnerCid));
      } finally {
        c.close();
      }
    };
    const started = performance.now();
    expect(await attempt()).toBe(status.UNAUTHENTICATED);
    let code: status | undefined = status.UNAUTHENTICATED;
    for (let i = 0; i < 50 && code !== undefined; i++) {
      await sleep(200);
      code = await attempt();
    }
    const ms = performance.now() - started;
    if (process.env.PARLEY_TEST_LOG) process.stderr.write(`early refresh: first retry success ${Math.round(ms)} ms after the refused handshake\n`);
    expect(code).toBeUndefined();
    expect(ms).toBeLessThan(10_000);
    expect(heldAuthorities(partner, ACME)).toContain(newCa);
    expect(await metricValue(partner, 'parley_grpc_connections_refused_total', { reason: 'chain_unverified' })).toBeGreaterThan(refusedBefore);
    const after = await partner.gateway.get(FederationService).status(ACME);
    expect(after.polls).toBeGreaterThan(regular.polls);
    // The refusal used partner's early-refresh allowance for acme (one per 30 s).
    expect(partner.gateway.get(FederationService).requestEarlyRefresh(ACME)).toBe(false);
  });
});
