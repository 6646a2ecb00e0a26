import { randomBytes, createHash } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import type { DevCa } from '../../../src/identity/dev-ca/dev-ca';
import { requireSpiffeId, requireTrustDomain, X509Bundle } from '../../../src/spiffe';
import { StoreClient, storeChannelOptions } from '../../../src/store';
import { spiffeChannelCredentials } from '../../../src/tls/client-credentials';
import { devCaOf, startTestGateway, type TestGateway } from '../../support/gateway';
import { TestCa } from '../../support/test-ca';
import { TrustStore } from '../../../src/trust';

/** Dialing an IP: the trust domain goes as TLS server name (TLS forbids IP addresses there). */
const IP_TARGET = { ...storeChannelOptions(), 'grpc.ssl_target_name_override': 'acme.test' };

jest.setTimeout(60_000);

describe('the store on a running gateway', () => {
  let gw: TestGateway;
  let ca: DevCa;
  let address: string;
  const server = { id: requireSpiffeId('spiffe://acme.test/parley/gateway') };

  beforeAll(async () => {
    gw = await startTestGateway();
    ca = await devCaOf(gw);
    address = `127.0.0.1:${gw.gateway.listeners.grpc!.port}`;
  });
  afterAll(() => gw?.stop());

  it('stores a record pushed by an own workload and serves it back with its creator', async () => {
    const issued = await ca.issue(requireSpiffeId('spiffe://acme.test/ns/ml/sa/trainer'));
    const client = new StoreClient(address, spiffeChannelCredentials({ svid: { certChainPem: issued.certPem, keyPem: issued.keyPem }, trust: gw.gateway.get(TrustStore), server }), IP_TARGET);
    try {
      const payload = randomBytes(3 * 1024 * 1024 + 17);
      const cid = await client.push({ namespace: 'ml/weights', media_type: 'application/octet-stream', annotations: { model: 'tiny' } }, payload);
      const { record, data } = await client.pullAll(cid);
      expect(createHash('sha256').update(data).digest('hex')).toBe(createHash('sha256').update(payload).digest('hex'));
      expect(record).toMatchObject({ cid, namespace: 'ml/weights', creator_spiffe_id: 'spiffe://acme.test/ns/ml/sa/trainer', creator_trust_domain: 'acme.test' });
    } finally {
      client.close();
    }
  });

  it('denies a federated partner until authorization policies grant it access', async () => {
    const partner = await TestCa.create({ trustDomain: 'partner.test' });
    const td = requireTrustDomain('partner.test');
    gw.gateway.get(TrustStore).set(X509Bundle.parsePem(td, partner.bundlePem()));
    const svid = await partner.issueSvid({ id: 'spiffe://partner.test/sync' });
    const client = new StoreClient(address, spiffeChannelCredentials({ svid: { certChainPem: svid.certPem, keyPem: svid.keyPem }, trust: gw.gateway.get(TrustStore), server }), IP_TARGET);
    try {
      await expect(client.push({ namespace: 'ml', media_type: 'text/plain', annotations: {} }, Buffer.from('x'))).rejects.toMatchObject({ code: status.PERMISSION_DENIED });
    } finally {
      client.close();
      gw.gateway.get(TrustStore).remove(td);
    }
  });
});
