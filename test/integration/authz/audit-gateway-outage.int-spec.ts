/**
 * The audit trail of a whole gateway while its PostgreSQL is stopped: calls that need no
 * database are still decided at once. With the spool (the default) every decision of the
 * outage goes to disk and arrives, in order, when PostgreSQL is back; without one
 * (spoolMaxBytes 0) the bounded queue drops (and counts on the ops /metrics) what it cannot
 * hold. Either way new decisions are written again after the restart.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { freePort } from '../../../src/common/net';
import { EmbeddedPostgres } from '../../../src/database/embedded-postgres';
import { requireSpiffeId } from '../../../src/spiffe';
import { spiffeChannelCredentials } from '../../../src/tls/client-credentials';
import { devCaOf, startTestGateway, type TestGateway } from '../../support/gateway';
import { metricSum, scrapeMetrics } from '../../support/prometheus';
import { AuditWriter } from '../../../src/authz';
import { DataSource } from 'typeorm';
import { PolicyStore } from '../../../src/authz';
import { TrustStore } from '../../../src/trust';

jest.setTimeout(90_000);

const QUEUE = 10;
const CHECK = '/grpc.health.v1.Health/Check';
const LIST = '/parley.store.v1.StoreService/List';
const APP = 'spiffe://acme.test/ns/app';
const INTRUDER = 'spiffe://acme.test/ns/intruder';
const GATEWAY = requireSpiffeId('spiffe://acme.test/parley/gateway');

const pass = (b: Buffer): Buffer => b;

/** One call with an empty request and a 5 s deadline: its status code and how long it took. */
function timedCall(client: grpc.Client, method: string): Promise<{ code: grpc.status; ms: number }> {
  const started = performance.now();
  return new Promise((resolve) => {
    client.makeUnaryRequest(method, pass, pass, Buffer.alloc(0), { deadline: Date.now() + 5000 }, (err) =>
      resolve({ code: err ? (err.code ?? grpc.status.UNKNOWN) : grpc.status.OK, ms: performance.now() - started }),
    );
  });
}

/** Polls `probe` until it returns true, at most `ms`. */
async function waitFor(probe: () => Promise<boolean> | boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.each([
  ['with the spool (default)', {}, true],
  ['without a spool (spoolMaxBytes 0)', { PARLEY_AUTHZ_AUDIT_SPOOL_MAX_BYTES: '0' }, false],
] as const)('gateway audit while PostgreSQL is stopped, %s', (name, spoolEnv, spooling) => {
  let dir: string;
  let pg: EmbeddedPostgres;
  let gw: TestGateway;
  const clients: grpc.Client[] = [];

  /** Sum of a metric's samples on the ops /metrics endpoint whose labels include `labels`. */
  const metric = async (name: string, labels: Record<string, string> = {}): Promise<number> => metricSum(await scrapeMetrics(gw.gateway.listeners.ops!.port), name, labels);
  const client = async (id: string): Promise<grpc.Client> => {
    const issued = await (await devCaOf(gw)).issue(requireSpiffeId(id));
    const creds = spiffeChannelCredentials({ svid: { certChainPem: issued.certPem, keyPem: issued.keyPem }, trust: gw.gateway.get(TrustStore), server: { id: GATEWAY } });
    const c = new grpc.Client(`127.0.0.1:${gw.gateway.listeners.grpc!.port}`, creds, { 'grpc.ssl_target_name_override': 'acme.test' });
    clients.push(c);
    return c;
  };
  /** Audit rows after `afterId`, in write order (the query is retried while the pool reconnects). */
  const rowsAfter = async (afterId: string): Promise<Array<{ id: string; spiffe_id: string; method: string; decision: string }>> => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await gw.gateway.get(DataSource).query('SELECT id::text AS id, spiffe_id, method, decision FROM authz_audit WHERE id > $1::bigint ORDER BY authz_audit.id', [afterId]);
      } catch (err) {
        if (attempt >= 5) throw err;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'parley-audit-gw-'));
    chmodSync(dir, 0o755);
    pg = new EmbeddedPostgres({ dir: join(dir, 'postgres'), port: await freePort(), startTimeoutMs: 30_000 });
    const url = await pg.start();
    gw = await startTestGateway({
      DATABASE_URL: url,
      PARLEY_AUTHZ_AUDIT_QUEUE_SIZE: String(QUEUE),
      PARLEY_AUTHZ_AUDIT_BATCH_SIZE: '4',
      PARLEY_AUTHZ_AUDIT_FLUSH_INTERVAL: '20ms',
      PARLEY_DATABASE_CONNECT_TIMEOUT_MS: '1000',
      ...spoolEnv,
    });
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await gw?.stop();
    await pg?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const title = spooling
    ? 'decides without the database, spools every decision, then writes them all, in order, and new ones'
    : 'decides without the database, drops and counts the overflow, then writes the kept decisions and new ones';
  it(title, async () => {
    await gw.gateway.get(PolicyStore).add({ id: 'no-intruder', effect: 'deny', subjects: [{ spiffeId: INTRUDER }], methods: ['/parley.store.v1.StoreService/*'] }, { actor: 'test' });
    const app = await client(APP);
    const intruder = await client(INTRUDER);
    // Connections and decisions while the database is up; the audit trail is written.
    expect((await timedCall(app, CHECK)).code).toBe(grpc.status.OK);
    expect((await timedCall(intruder, LIST)).code).toBe(grpc.status.PERMISSION_DENIED);
    await gw.gateway.get(AuditWriter).flush();
    const before = await rowsAfter('0');
    expect(before.slice(-2).map((r) => [r.spiffe_id, r.method, r.decision])).toEqual([
      [APP, CHECK, 'allow'],
      [INTRUDER, LIST, 'deny'],
    ]);
    const lastId = before[before.length - 1]!.id;
    expect(await metric('parley_authz_audit_dropped_total')).toBe(0);

    await pg.stop();
    const outage: Array<[string, string, string]> = [];
    const slowest = { ms: 0 };
    for (let i = 0; i < QUEUE * 3; i++) {
      const [who, c, method, want] = i % 2 === 0 ? [APP, app, CHECK, grpc.status.OK] : [INTRUDER, intruder, LIST, grpc.status.PERMISSION_DENIED];
      const { code, ms } = await timedCall(c, method);
      expect({ i, method, code: grpc.status[code] }).toEqual({ i, method, code: grpc.status[want] });
      slowest.ms = Math.max(slowest.ms, ms);
      outage.push([who, method, want === grpc.status.OK ? 'allow' : 'deny']);
    }
    expect(slowest.ms).toBeLessThan(1000);
    await waitFor(async () => (await metric('parley_authz_audit_write_failures_total')) > 0, 10_000, 'a failed audit write');
    // The last decisions (under half the queue) go to disk at the next retry: up to retryMaxMs
    // (5 s) after a failed attempt, later on a loaded machine.
    if (spooling) await waitFor(async () => (await metric('parley_authz_audit_spooled_total')) === outage.length, 30_000, 'every outage decision spooled');
    const dropped = await metric('parley_authz_audit_dropped_total');
    const kept = spooling ? outage.length : QUEUE;
    expect(dropped).toBe(outage.length - kept);
    expect(await metric('parley_authz_audit_dropped_total', { reason: 'queue_full' })).toBe(outage.length - kept);
    expect(await metric('parley_authz_audit_queue_depth')).toBe(spooling ? 0 : QUEUE);

    await pg.start();
    await waitFor(() => !gw.gateway.get(AuditWriter).failing && gw.gateway.get(AuditWriter).queued === 0 && !gw.gateway.get(AuditWriter).spooling, 20_000, 'the audit queue written after the restart');
    expect((await timedCall(app, CHECK)).code).toBe(grpc.status.OK);
    expect((await timedCall(intruder, LIST)).code).toBe(grpc.status.PERMISSION_DENIED);
    await gw.gateway.get(AuditWriter).flush();
    const after = (await rowsAfter(lastId)).map((r) => [r.spiffe_id, r.method, r.decision]);
    // Every decision of the outage (without a spool: the oldest QUEUE), in order, then the new calls.
    expect(after).toEqual([...outage.slice(0, kept), [APP, CHECK, 'allow'], [INTRUDER, LIST, 'deny']]);
    if (spooling) expect(await metric('parley_authz_audit_replayed_total')).toBe(outage.length);
    process.stdout.write(`audit outage (${name}): slowest decision without the database ${slowest.ms.toFixed(1)} ms; ${dropped} dropped, ${kept} kept and written after the restart\n`);
  });
});
