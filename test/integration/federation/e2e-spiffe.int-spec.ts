/**
 * End to end, two real gateways on 127.0.0.1 federated both ways over https_spiffe (each
 * bootstrapped with the other's bundle, then polling the other's real bundle endpoint):
 * a partner workload pulls what an acme workload pushed at acme, its push is refused, and an
 * acme workload pulls from partner exactly as far as partner's policy allows.
 */
import { status } from '@grpc/grpc-js';
import { defaultPolicy, type Rule } from '../../../src/authz/domain';
import type { StoreClient } from '../../../src/store';
import type { TestGateway } from '../../support/gateway';
import { ACME, adminCall, grpcCode, heldAuthorities, PARTNER, payload, publishedAuthorities, startFederatedPair, workloadClient } from '../../support/federation';
import { waitFor } from '../../support/ports';
import { PolicyStore } from '../../../src/authz';

jest.setTimeout(120_000);

const STORE = '/parley.store.v1.StoreService/';

describe('two gateways federated over https_spiffe (acme.test <-> partner.test)', () => {
  let acme: TestGateway;
  let partner: TestGateway;
  const clients: StoreClient[] = [];
  const client = async (from: TestGateway, path: string, to: TestGateway) => {
    const c = await workloadClient(from, path, to);
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    ({ acme, partner } = await startFederatedPair());
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await Promise.all([acme?.stop(), partner?.stop()]);
  });

  it('each side holds exactly the bundle the other publishes, fetched from its bundle endpoint', async () => {
    expect(heldAuthorities(partner, ACME)).toEqual(publishedAuthorities(acme));
    expect(heldAuthorities(acme, PARTNER)).toEqual(publishedAuthorities(partner));
    for (const [holder, td] of [
      [partner, ACME],
      [acme, PARTNER],
    ] as const) {
      const reply = await adminCall(holder, 'GET', `/v1/federations/${td}`);
      expect(reply.status).toBe(200);
      expect(reply.json()).toMatchObject({ trustDomain: td, profile: 'https_spiffe', state: 'ready', sequence: '1', consecutiveFailures: 0 });
    }
  });

  it('a partner workload pulls a record an acme workload pushed at acme; its own push is PERMISSION_DENIED', async () => {
    const trainer = await client(acme, '/ns/ml/sa/trainer', acme);
    const data = payload(64 * 1024);
    const cid = await trainer.push({ namespace: 'ml/models', media_type: 'application/octet-stream', annotations: { model: 'tiny' } }, data);

    const puller = await client(partner, '/ns/ml/sa/puller', acme);
    const pulled = await puller.pullAll(cid);
    expect(pulled.data.equals(data)).toBe(true);
    expect(pulled.record).toMatchObject({ cid, namespace: 'ml/models', creator_spiffe_id: 'spiffe://acme.test/ns/ml/sa/trainer' });

    expect(await grpcCode(puller.push({ namespace: 'ml/models', media_type: 'text/plain', annotations: {} }, Buffer.from('from partner')))).toBe(status.PERMISSION_DENIED);
    expect(await grpcCode(puller.delete(cid))).toBe(status.PERMISSION_DENIED);
    // Still there, untouched by the refused calls.
    expect((await trainer.pullAll(cid)).data.equals(data)).toBe(true);
  });

  it("an acme workload pulls from partner only while partner's policy allows it", async () => {
    const owner = await client(partner, '/ns/data/sa/publisher', partner);
    const shared = await owner.push({ namespace: 'shared/sets', media_type: 'text/plain', annotations: {} }, Buffer.from('shared with acme'));
    const internal = await owner.push({ namespace: 'internal', media_type: 'text/plain', annotations: {} }, Buffer.from('partner only'));
    const reader = await client(acme, '/ns/ml/sa/reader', partner);
    const pull = async (cid: string) => grpcCode(reader.pullAll(cid));

    // Default trust model: federated trust domains may Pull.
    expect(await pull(shared)).toBeUndefined();

    // Partner's operator keeps only its own-domain rule: acme is refused.
    const own = defaultPolicy(PARTNER).filter((r) => r.id === 'default-own');
    expect(own).toHaveLength(1);
    await partner.gateway.get(PolicyStore).replaceAll(own, { actor: 'e2e' });
    await waitFor(async () => (await pull(shared)) === status.PERMISSION_DENIED, 5_000);

    // Then grants acme.test Pull below shared/ only.
    const grant: Rule = { id: 'acme-pull-shared', effect: 'allow', subjects: [{ trustDomain: ACME }], methods: [`${STORE}Pull`], namespaces: ['shared'] };
    await partner.gateway.get(PolicyStore).replaceAll([...own, grant], { actor: 'e2e' });
    await waitFor(async () => (await pull(shared)) === undefined, 5_000);
    expect(await pull(internal)).toBe(status.PERMISSION_DENIED);
    expect(await grpcCode(reader.push({ namespace: 'shared/sets', media_type: 'text/plain', annotations: {} }, Buffer.from('x')))).toBe(status.PERMISSION_DENIED);
  });
});
