/**
 * No single peer can hold the payload stream connections: Pulls are capped per SPIFFE ID
 * (store.pullsPerSpiffeId) and per trust domain (store.pullsPerTrustDomain). The attack of
 * issue 13 — 16 Pulls that are never read, from one connection — leaves another caller's
 * Pull working at once; the Pulls over the cap get RESOURCE_EXHAUSTED, counted and audited.
 */
import { randomBytes } from 'node:crypto';
import { status, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import { requireSpiffeId } from '../../../src/spiffe';
import { StoreClient, storeChannelOptions } from '../../../src/store';
import { spiffeChannelCredentials } from '../../../src/tls/client-credentials';
import { devCaOf, startTestGateway, type TestGateway } from '../../support/gateway';
import { waitFor } from '../../support/ports';
import { metricSum, scrapeMetrics } from '../../support/prometheus';
import { stalledPull } from '../../support/stalled-pull';
import { DataSource } from 'typeorm';
import { TrustStore } from '../../../src/trust';

jest.setTimeout(120_000);

const STALLED_PULLS = 16;

describe('pull concurrency per caller', () => {
  let gw: TestGateway;
  const clients: StoreClient[] = [];

  async function clientFor(id: string): Promise<StoreClient> {
    const issued = await (await devCaOf(gw)).issue(requireSpiffeId(id));
    const credentials = spiffeChannelCredentials({
      svid: { certChainPem: issued.certPem, keyPem: issued.keyPem },
      trust: gw.gateway.get(TrustStore),
      server: { id: requireSpiffeId('spiffe://acme.test/parley/gateway') },
    });
    // A small flow-control window, so a reader that stops reading stalls the server quickly.
    const client = new StoreClient(`127.0.0.1:${gw.gateway.listeners.grpc!.port}`, credentials, { ...storeChannelOptions(), 'grpc-node.flow_control_window': 1024 * 1024, 'grpc.ssl_target_name_override': 'acme.test' });
    clients.push(client);
    return client;
  }

  beforeAll(async () => {
    gw = await startTestGateway({ PARLEY_STORE_PULL_CONNECTIONS: '16', PARLEY_STORE_PULL_CONNECTION_WAIT: '3s' });
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await gw?.stop();
  });

  it('16 never-read Pulls from one SPIFFE ID: 4 run, 12 are refused, and another ID pulls at once', async () => {
    const attacker = await clientFor('spiffe://acme.test/ns/attacker');
    const other = await clientFor('spiffe://acme.test/ns/other');
    const big = await attacker.push({ namespace: 'ns', media_type: 'application/octet-stream', annotations: {} }, randomBytes(24 * 1024 * 1024));
    const small = await other.push({ namespace: 'ns', media_type: 'text/plain', annotations: {} }, Buffer.from('small'));
    const before = await scrapeMetrics(gw.gateway.listeners.ops!.port);

    const held: Array<ClientReadableStream<unknown>> = [];
    const outcomes = await Promise.all(Array.from({ length: STALLED_PULLS }, () => stalledPull(attacker, big, held)));
    const refused = outcomes.filter((o): o is ServiceError => o !== 'stalled');
    expect(outcomes.filter((o) => o === 'stalled')).toHaveLength(4);
    expect(refused.map((e) => e.code)).toEqual(Array(12).fill(status.RESOURCE_EXHAUSTED));
    expect(refused[0].details).toBe('pull: concurrency limit: spiffe://acme.test/ns/attacker has 4 pulls running, the most store.pullsPerSpiffeId allows; retry later');

    // The other caller is not starved: its Pull gets a stream connection (before the fix: UNAVAILABLE after pullConnectionWait).
    expect((await other.pullAll(small)).data.toString()).toBe('small');

    const after = await scrapeMetrics(gw.gateway.listeners.ops!.port);
    const refusals = (s: typeof after) => metricSum(s, 'parley_store_capacity_refusals_total', { limit: 'pulls_per_spiffe_id' });
    expect(refusals(after) - (before.some((s) => s.name === 'parley_store_capacity_refusals_total') ? refusals(before) : 0)).toBe(12);
    expect(metricSum(after, 'parley_authz_decisions_total', { method: '/parley.store.v1.StoreService/Pull', result: 'concurrency_limit' })).toBe(12);
    expect(metricSum(after, 'parley_store_streams_running', { kind: 'pull' })).toBe(4);

    const rows = await waitFor(async () => {
      const found: Array<{ decision: string; reason: string }> = await gw.gateway.get(DataSource).query(
        `SELECT decision, reason FROM authz_audit WHERE spiffe_id = $1 AND method = '/parley.store.v1.StoreService/Pull' AND reason LIKE 'concurrency_limit:%'`,
        ['spiffe://acme.test/ns/attacker'],
      );
      return found.length === 12 ? found : undefined;
    }, 10_000);
    expect(rows[0]).toEqual({ decision: 'deny', reason: 'concurrency_limit: spiffe://acme.test/ns/attacker has 4 pulls running, the most store.pullsPerSpiffeId allows' });

    for (const pull of held) pull.cancel();
    // The cancelled pulls give their slots back: the attacker pulls again.
    await waitFor(async () => (await scrapeMetrics(gw.gateway.listeners.ops!.port)).some((s) => s.name === 'parley_store_streams_running' && s.labels.kind === 'pull' && s.value === 0), 10_000);
    expect((await attacker.pullAll(small)).data.toString()).toBe('small');
  });

  it('the trust domain cap holds several IDs of one domain together (store.pullsPerTrustDomain)', async () => {
    const ids = ['a', 'b', 'c'].map((n) => `spiffe://acme.test/ns/td-${n}`);
    const [a, b, c] = await Promise.all(ids.map((id) => clientFor(id)));
    const big = await a.push({ namespace: 'ns', media_type: 'application/octet-stream', annotations: {} }, randomBytes(24 * 1024 * 1024));
    const held: Array<ClientReadableStream<unknown>> = [];
    const first = await Promise.all([...Array.from({ length: 4 }, () => stalledPull(a, big, held)), ...Array.from({ length: 4 }, () => stalledPull(b, big, held))]);
    expect(first).toEqual(Array(8).fill('stalled'));
    const third = await stalledPull(c, big, held);
    expect(third).toMatchObject({ code: status.RESOURCE_EXHAUSTED, details: 'pull: concurrency limit: trust domain acme.test has 8 pulls running, the most store.pullsPerTrustDomain allows; retry later' });
    for (const pull of held) pull.cancel();
  });
});
