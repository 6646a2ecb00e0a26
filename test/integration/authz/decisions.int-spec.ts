/**
 * Authorization on a running gateway with real mTLS clients: every served method for own,
 * federated, lookalike, revoked and unfederated callers; namespace checks in the store;
 * one audit row per call.
 */
import * as grpc from '@grpc/grpc-js';
import type { PackageDefinition } from '@grpc/proto-loader';
import { HEALTH_PROTO } from '../../../src/grpc';
import { loadProto } from '../../../src/common/proto-files';
import { requireSpiffeId, requireTrustDomain, X509Bundle } from '../../../src/spiffe';
import { StoreClient, storeChannelOptions, storePackageDefinition } from '../../../src/store';
import { syncPackageDefinition } from '../../../src/sync';
import { spiffeChannelCredentials } from '../../../src/tls/client-credentials';
import type { Rule } from '../../../src/authz/domain';
import { devCaOf, startTestGateway, type TestGateway } from '../../support/gateway';
import { metricSum, scrapeMetrics } from '../../support/prometheus';
import { TestCa } from '../../support/test-ca';
import { AuditWriter } from '../../../src/authz';
import { DataSource } from 'typeorm';
import { PolicyStore } from '../../../src/authz';
import { RevocationStore } from '../../../src/authz';
import { SecureGrpcServer } from '../../../src/grpc';
import { TrustStore } from '../../../src/trust';

jest.setTimeout(180_000);

const STORE = '/parley.store.v1.StoreService/';
const CREDENTIALS = '/parley.sync.v1.SyncService/RequestRegistryCredentials';
const SERVER = { id: requireSpiffeId('spiffe://acme.test/parley/gateway') };
const PARTNER = 'example.org';
const LOOKALIKES = ['example.org.evil.com', 'notexample.org', 'example-org'];

interface MethodKind {
  requestStream: boolean;
  responseStream: boolean;
}

/** Request/response streaming of every method in these package definitions. */
function kinds(...defs: PackageDefinition[]): Map<string, MethodKind> {
  const out = new Map<string, MethodKind>();
  for (const def of defs) {
    for (const service of Object.values(def)) {
      if (typeof service !== 'object' || service === null || 'format' in service) continue;
      for (const m of Object.values(service as Record<string, { path: string; requestStream: boolean; responseStream: boolean }>)) out.set(m.path, m);
    }
  }
  return out;
}

const pass = (b: Buffer): Buffer => b;

/**
 * Calls `method` with an empty request message (valid for every proto message) and returns
 * the final status code: PERMISSION_DENIED when authorization refused it, the handler's
 * answer (OK, INVALID_ARGUMENT, CANCELLED for an endless stream, …) otherwise.
 */
function callStatus(client: grpc.Client, method: string, kind: MethodKind): Promise<grpc.status> {
  return new Promise((resolve) => {
    const deadline = Date.now() + 10_000;
    let settled = false;
    const done = (code: grpc.status) => {
      if (!settled) {
        settled = true;
        resolve(code);
      }
    };
    const onStatus = (s: grpc.StatusObject) => done(s.code);
    if (!kind.requestStream && !kind.responseStream) {
      client.makeUnaryRequest(method, pass, pass, Buffer.alloc(0), { deadline }, (err) => done(err ? (err.code ?? grpc.status.UNKNOWN) : grpc.status.OK));
    } else if (kind.requestStream && !kind.responseStream) {
      const call = client.makeClientStreamRequest(method, pass, pass, { deadline }, (err) => done(err ? (err.code ?? grpc.status.UNKNOWN) : grpc.status.OK));
      call.end();
    } else {
      const call = kind.requestStream
        ? client.makeBidiStreamRequest(method, pass, pass, new grpc.Metadata(), { deadline })
        : client.makeServerStreamRequest(method, pass, pass, Buffer.alloc(0), { deadline });
      call.on('data', () => call.cancel()); // an answer means it was authorized; endless streams (Watch) end here
      call.on('error', () => undefined);
      call.on('status', onStatus);
      if (kind.requestStream) (call as grpc.ClientDuplexStream<Buffer, Buffer>).end();
    }
  });
}

describe('authorization of every served method', () => {
  let gw: TestGateway;
  let address: string;
  const cas = new Map<string, TestCa>();
  const clients: grpc.Client[] = [];
  let methods: string[];
  let methodKinds: Map<string, MethodKind>;

  const client = async (td: string, path: string): Promise<grpc.Client> => {
    let pem: { certPem: string; keyPem: string };
    if (td === 'acme.test') {
      const issued = await (await devCaOf(gw)).issue(requireSpiffeId(`spiffe://acme.test${path}`));
      pem = { certPem: issued.certPem, keyPem: issued.keyPem };
    } else {
      const svid = await cas.get(td)!.issueSvid({ id: `spiffe://${td}${path}` });
      pem = { certPem: svid.certPem, keyPem: svid.keyPem };
    }
    const c = new grpc.Client(address, spiffeChannelCredentials({ svid: { certChainPem: pem.certPem, keyPem: pem.keyPem }, trust: gw.gateway.get(TrustStore), server: SERVER }), {
      'grpc.ssl_target_name_override': 'acme.test',
    });
    clients.push(c);
    return c;
  };

  const statusesOf = async (c: grpc.Client): Promise<Record<string, grpc.status>> => {
    const out: Record<string, grpc.status> = {};
    for (const m of methods) out[m] = await callStatus(c, m, methodKinds.get(m)!);
    return out;
  };

  const decisions = (statuses: Record<string, grpc.status>): Record<string, boolean> =>
    Object.fromEntries(Object.entries(statuses).map(([m, code]) => [m, code !== grpc.status.PERMISSION_DENIED]));

  beforeAll(async () => {
    gw = await startTestGateway();
    address = `127.0.0.1:${gw.gateway.listeners.grpc!.port}`;
    for (const td of [PARTNER, ...LOOKALIKES, 'unknown.test']) cas.set(td, await TestCa.create({ trustDomain: td }));
    // Every trust domain but unknown.test authenticates (its bundle is held); authorization decides the rest.
    for (const td of [PARTNER, ...LOOKALIKES]) gw.gateway.get(TrustStore).set(X509Bundle.parsePem(requireTrustDomain(td), cas.get(td)!.bundlePem()));
    methods = gw.gateway.get(SecureGrpcServer).servedMethods();
    methodKinds = kinds(storePackageDefinition(), syncPackageDefinition(), loadProto(HEALTH_PROTO), loadProto('grpc/reflection/v1/reflection.proto'), loadProto('grpc/reflection/v1alpha/reflection.proto'));
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await gw?.stop();
  });

  it('serves exactly the registered methods, each with a known kind', () => {
    expect(methods).toEqual(expect.arrayContaining([`${STORE}Push`, `${STORE}Pull`, `${STORE}PullReferrer`, '/grpc.health.v1.Health/Check']));
    for (const m of methods) expect(methodKinds.has(m)).toBe(true);
  });

  it('decides every method for own, federated, lookalike, revoked and unfederated callers', async () => {
    const rules: Rule[] = [
      { id: 'own', effect: 'allow', subjects: [{ trustDomain: 'own' }], methods: ['*'] },
      { id: 'partner-read', effect: 'allow', subjects: [{ trustDomain: PARTNER }], methods: [`${STORE}Pull`, `${STORE}Lookup`] },
    ];
    await gw.gateway.get(PolicyStore).replaceAll(rules, { actor: 'test' });
    await gw.gateway.get(RevocationStore).add({ kind: 'spiffe_id', value: 'spiffe://acme.test/ns/revoked', reason: 'test', createdBy: 'test' });
    await waitFor(() => gw.gateway.get(RevocationStore).isRevoked({ id: requireSpiffeId('spiffe://acme.test/ns/revoked') } as never));
    const auditBefore = await auditCount(gw);
    const metricsBefore = await scrapeMetrics(gw.gateway.listeners.ops!.port);

    const own = decisions(await statusesOf(await client('acme.test', '/ns/app')));
    // Allowed everywhere; a credentials request is then refused by its handler: nothing is exported to own workloads.
    expect(own).toEqual(Object.fromEntries(methods.map((m) => [m, m !== CREDENTIALS])));

    const revoked = decisions(await statusesOf(await client('acme.test', '/ns/revoked')));
    expect(revoked).toEqual(Object.fromEntries(methods.map((m) => [m, false])));

    const partner = decisions(await statusesOf(await client(PARTNER, '/sync')));
    expect(partner).toEqual(Object.fromEntries(methods.map((m) => [m, m === `${STORE}Pull` || m === `${STORE}Lookup`])));
    // A rule for .../Pull does not grant .../PullReferrer.
    expect(partner[`${STORE}PullReferrer`]).toBe(false);

    for (const td of LOOKALIKES) {
      const lookalike = decisions(await statusesOf(await client(td, '/sync')));
      expect({ td, lookalike }).toEqual({ td, lookalike: Object.fromEntries(methods.map((m) => [m, false])) });
    }

    // Not federated: the connection is refused (UNAUTHENTICATED, unknown_ca), no method is ever reached.
    const stranger = await client('unknown.test', '/sync');
    expect(await callStatus(stranger, `${STORE}Pull`, methodKinds.get(`${STORE}Pull`)!)).toBe(grpc.status.UNAUTHENTICATED);

    // Exactly one audit row per call that reached the gateway's interceptor.
    const calls = methods.length * (3 + LOOKALIKES.length);
    await gw.gateway.get(AuditWriter).flush();
    expect((await auditCount(gw)).n - auditBefore.n).toBe(calls);
    const perCall = await gw.gateway.get(DataSource).query(
      `SELECT spiffe_id, method, count(*)::int AS n FROM authz_audit WHERE id > $1 GROUP BY spiffe_id, method HAVING count(*) <> 1`,
      [auditBefore.lastId],
    );
    expect(perCall).toEqual([]);
    const denied = await gw.gateway.get(DataSource).query(`SELECT reason FROM authz_audit WHERE id > $1 AND spiffe_id = 'spiffe://acme.test/ns/revoked' LIMIT 1`, [auditBefore.lastId]);
    expect(denied[0].reason).toMatch(/^revoked/);

    // Every call is counted by method, trust domain and result, and its authorization time measured.
    const metricsAfter = await scrapeMetrics(gw.gateway.listeners.ops!.port);
    const delta = (name: string, labels: Record<string, string> = {}) => metricSum(metricsAfter, name, labels) - metricSum(metricsBefore, name, labels);
    expect(delta('parley_authz_duration_seconds_count')).toBe(calls);
    expect(delta('parley_authz_duration_seconds_sum')).toBeGreaterThan(0);
    expect(metricSum(metricsAfter, 'parley_authz_decisions_total', { trust_domain: PARTNER, result: 'allow' })).toBe(2);
    expect(metricSum(metricsAfter, 'parley_authz_decisions_total', { trust_domain: PARTNER, result: 'deny' })).toBe(methods.length - 2);
    expect(metricSum(metricsAfter, 'parley_authz_decisions_total', { method: `${STORE}PullReferrer`, trust_domain: 'example.org.evil.com', result: 'deny' })).toBe(1);
  });

  it('checks namespaces where the store resolves the record, and List shows only what the caller may see', async () => {
    await gw.gateway.get(PolicyStore).replaceAll(
      [
        { id: 'own', effect: 'allow', subjects: [{ trustDomain: 'own' }], methods: ['*'] },
        { id: 'partner-shared', effect: 'allow', subjects: [{ trustDomain: PARTNER }], methods: [`${STORE}Pull`, `${STORE}Lookup`, `${STORE}List`], namespaces: ['shared'] },
        { id: 'no-secrets', effect: 'deny', subjects: [{ trustDomain: 'any' }], methods: [`${STORE}Pull`], namespaces: ['shared/secret'] },
      ],
      { actor: 'test' },
    );
    const issued = await (await devCaOf(gw)).issue(requireSpiffeId('spiffe://acme.test/ns/publisher'));
    const own = new StoreClient(address, spiffeChannelCredentials({ svid: { certChainPem: issued.certPem, keyPem: issued.keyPem }, trust: gw.gateway.get(TrustStore), server: SERVER }), { ...storeChannelOptions(), 'grpc.ssl_target_name_override': 'acme.test' });
    const partnerSvid = await cas.get(PARTNER)!.issueSvid({ id: `spiffe://${PARTNER}/reader` });
    const partner = new StoreClient(address, spiffeChannelCredentials({ svid: { certChainPem: partnerSvid.certPem, keyPem: partnerSvid.keyPem }, trust: gw.gateway.get(TrustStore), server: SERVER }), { ...storeChannelOptions(), 'grpc.ssl_target_name_override': 'acme.test' });
    try {
      const header = (namespace: string) => ({ namespace, media_type: 'text/plain', annotations: { suite: 'ns' } });
      const shared = await own.push(header('shared/models'), Buffer.from('shared weights'));
      const secret = await own.push(header('shared/secret'), Buffer.from('secret weights'));
      const hidden = await own.push(header('private'), Buffer.from('private weights'));

      expect((await partner.pullAll(shared)).data.toString()).toBe('shared weights');
      await expect(partner.pullAll(hidden)).rejects.toMatchObject({ code: grpc.status.PERMISSION_DENIED });
      await expect(partner.pullAll(secret)).rejects.toMatchObject({ code: grpc.status.PERMISSION_DENIED });
      // Own workloads are not scoped; the deny on shared/secret covers them too.
      await expect(own.pullAll(secret)).rejects.toMatchObject({ code: grpc.status.PERMISSION_DENIED });
      await expect(partner.lookup([shared, hidden])).rejects.toMatchObject({ code: grpc.status.PERMISSION_DENIED });
      expect((await partner.lookup([shared])).records.map((r) => r.cid)).toEqual([shared]);

      const listed = await partner.list({ annotations: { suite: 'ns' } });
      expect(listed.records.map((r) => r.cid).sort()).toEqual([shared, secret].sort());
      const ownListed = await own.list({ annotations: { suite: 'ns' } });
      expect(ownListed.records).toHaveLength(3);
      // A namespace-scoped grant never extends to a push.
      await expect(partner.push(header('shared/models'), Buffer.from('x'))).rejects.toMatchObject({ code: grpc.status.PERMISSION_DENIED });

      await gw.gateway.get(AuditWriter).flush();
      const rows = await gw.gateway.get(DataSource).query(
        `SELECT namespace, decision, rule FROM authz_audit WHERE spiffe_id = $1 AND method = $2 ORDER BY id`,
        [`spiffe://${PARTNER}/reader`, `${STORE}Pull`],
      );
      expect(rows).toEqual([
        { namespace: 'shared/models', decision: 'allow', rule: 'partner-shared' },
        { namespace: 'private', decision: 'deny', rule: null },
        { namespace: 'shared/secret', decision: 'deny', rule: 'no-secrets' },
      ]);
    } finally {
      own.close();
      partner.close();
    }
  });
  it('a push of bytes stored before answers already_stored, with the kept record only where the caller may see its namespace', async () => {
    const ownAll: Rule = { id: 'own', effect: 'allow', subjects: [{ trustDomain: 'own' }], methods: ['*'] };
    await gw.gateway.get(PolicyStore).replaceAll([ownAll], { actor: 'test' });
    const issued = await (await devCaOf(gw)).issue(requireSpiffeId('spiffe://acme.test/ns/publisher'));
    const svid = { certChainPem: issued.certPem, keyPem: issued.keyPem };
    const connect = () => new StoreClient(address, spiffeChannelCredentials({ svid, trust: gw.gateway.get(TrustStore), server: SERVER }), { ...storeChannelOptions(), 'grpc.ssl_target_name_override': 'acme.test' });
    const payload = Buffer.from(`kept once ${Date.now()}`);
    let own = connect();
    try {
      const first = await own.pushRecord({ namespace: 'vault/models', annotations: { stage: 'prod' } }, payload);
      expect(first).toEqual({ cid: expect.stringMatching(/^bafkrei/), alreadyStored: false });
      const again = await own.pushRecord({ namespace: 'public/models', annotations: { stage: 'dev' } }, payload);
      expect(again).toEqual({ cid: first.cid, alreadyStored: true, record: expect.objectContaining({ cid: first.cid, namespace: 'vault/models', annotations: { stage: 'prod' } }) });
      own.close();

      // Pushes into vault are denied now: a push elsewhere learns that the record exists (as Lookup tells), not its metadata.
      const noVaultPush: Rule = { id: 'no-vault-push', effect: 'deny', subjects: [{ trustDomain: 'any' }], methods: [`${STORE}Push`], namespaces: ['vault'] };
      await gw.gateway.get(PolicyStore).replaceAll([ownAll, noVaultPush], { actor: 'test' });
      own = connect();
      expect(await own.pushRecord({ namespace: 'public/models', annotations: { stage: 'dev' } }, payload)).toEqual({ cid: first.cid, alreadyStored: true });
      expect((await own.lookup([first.cid])).records.map((r) => r.namespace)).toEqual(['vault/models']);
    } finally {
      own.close();
    }
  });
});

async function auditCount(gw: TestGateway): Promise<{ n: number; lastId: string }> {
  await gw.gateway.get(AuditWriter).flush();
  const rows: Array<{ n: number; last: string | null }> = await gw.gateway.get(DataSource).query('SELECT count(*)::int AS n, max(id)::text AS last FROM authz_audit');
  return { n: Number(rows[0]!.n), lastId: rows[0]!.last ?? '0' };
}

async function waitFor(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
