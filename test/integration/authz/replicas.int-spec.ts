/**
 * Two gateway replicas on one database and one dev CA, with real mTLS clients on both: a
 * policy change or a revocation made through replica A's admin API is enforced by replica B
 * within a second, B closes the revoked client's open connection, and removing the rule or
 * the revocation gives access back on both.
 */
import * as grpc from '@grpc/grpc-js';
import type { DevCa } from '../../../src/identity/dev-ca/dev-ca';
import { requireSpiffeId } from '../../../src/spiffe';
import { spiffeChannelCredentials } from '../../../src/tls/client-credentials';
import { adminRequest, issueCreds, type Creds } from '../../support/admin-api';
import { devCaOf, startTestGateway, type TestGateway } from '../../support/gateway';
import { TrustStore } from '../../../src/trust';

jest.setTimeout(60_000);

const STORE = '/parley.store.v1.StoreService/';
const LIST = `${STORE}List`;
const LOOKUP = `${STORE}Lookup`;
const WATCH = '/grpc.health.v1.Health/Watch';
const GATEWAY = requireSpiffeId('spiffe://acme.test/parley/gateway');
const ADMIN = 'spiffe://acme.test/parley/admin';
const APP = 'spiffe://acme.test/ns/app';
const VICTIM = 'spiffe://acme.test/ns/victim';
/** The bound of the proofs, and how long a poll may run to report what it measured. */
const LIMIT_MS = 1000;
const POLL_MS = 3000;

const pass = (b: Buffer): Buffer => b;

/** One call with an empty request (valid for every message) and a deadline: its status code. */
function unaryStatus(client: grpc.Client, method: string): Promise<grpc.status> {
  return new Promise((resolve) => {
    client.makeUnaryRequest(method, pass, pass, Buffer.alloc(0), { deadline: Date.now() + 2000 }, (err) => resolve(err ? (err.code ?? grpc.status.UNKNOWN) : grpc.status.OK));
  });
}

/** An endless health Watch stream: resolves `serving` on its first answer, `ended` with its status (ms stamp). */
function openWatch(client: grpc.Client): { serving: Promise<void>; ended: Promise<{ code: grpc.status; atMs: number }>; close(): void } {
  const call = client.makeServerStreamRequest(WATCH, pass, pass, Buffer.alloc(0));
  let onServing: () => void = () => undefined;
  const serving = new Promise<void>((r) => (onServing = r));
  call.on('data', () => onServing());
  call.on('error', () => undefined);
  const ended = new Promise<{ code: grpc.status; atMs: number }>((r) => call.on('status', (s: grpc.StatusObject) => r({ code: s.code, atMs: performance.now() })));
  return { serving, ended, close: () => call.cancel() };
}

/** Polls `method` on `client` until its answer is (not) PERMISSION_DENIED; ms since `sinceMs`. Throws after POLL_MS. */
async function untilDecision(client: grpc.Client, method: string, allowed: boolean, sinceMs: number): Promise<number> {
  for (;;) {
    const code = await unaryStatus(client, method);
    if ((code !== grpc.status.PERMISSION_DENIED) === allowed && code !== grpc.status.UNAVAILABLE) return performance.now() - sinceMs;
    if (performance.now() - sinceMs > POLL_MS) throw new Error(`${method}: still ${grpc.status[code]} after ${POLL_MS} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Resolves within `ms` or rejects. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)))]).finally(() => clearTimeout(timer));
}

describe('two gateway replicas on one database', () => {
  let a: TestGateway;
  let b: TestGateway;
  let ca: DevCa;
  let admin: Creds;
  const clients: grpc.Client[] = [];

  const creds = (id: string): Promise<Creds> => issueCreds(ca, id);
  const client = (gw: TestGateway, who: Creds): grpc.Client => {
    const c = new grpc.Client(`127.0.0.1:${gw.gateway.listeners.grpc!.port}`, spiffeChannelCredentials({ svid: { certChainPem: who.certPem, keyPem: who.keyPem }, trust: gw.gateway.get(TrustStore), server: { id: GATEWAY } }), {
      'grpc.ssl_target_name_override': 'acme.test',
    });
    clients.push(c);
    return c;
  };
  /** A request to A's admin API as the admin; status and JSON body. */
  const api = async (method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> => {
    const res = await adminRequest(a, ca, admin, method, path, { json: body });
    return { status: res.status, json: res.body === '' ? {} : (JSON.parse(res.body) as Record<string, unknown>) };
  };

  beforeAll(async () => {
    a = await startTestGateway();
    b = await startTestGateway({}, { replicaOf: a });
    ca = await devCaOf(a);
    admin = await creds(ADMIN);
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await b?.stop();
    await a?.stop();
  });

  it('a rule posted, replaced and deleted through A is enforced by B within 1 s', async () => {
    const app = await creds(APP);
    const onA = client(a, app);
    const onB = client(b, app);
    expect(await unaryStatus(onA, LIST)).toBe(grpc.status.OK);
    expect(await unaryStatus(onB, LIST)).toBe(grpc.status.OK);

    const rule = { id: 'no-list-for-app', effect: 'deny', subjects: [{ spiffeId: APP }], methods: [LIST] };
    const posted = await api('POST', '/v1/policies', rule);
    expect(posted.status).toBe(201);
    const deniedMs = await untilDecision(onB, LIST, false, performance.now());
    expect(await unaryStatus(onA, LIST)).toBe(grpc.status.PERMISSION_DENIED); // the writer enforces at once
    expect(await unaryStatus(onB, LOOKUP)).not.toBe(grpc.status.PERMISSION_DENIED);

    const { id: _id, ...withoutId } = rule;
    const replaced = await api('PUT', `/v1/policies/${rule.id}`, { ...withoutId, methods: [LOOKUP] });
    expect(replaced.status).toBe(200);
    const replacedMs = await untilDecision(onB, LOOKUP, false, performance.now());
    expect(await unaryStatus(onB, LIST)).toBe(grpc.status.OK);

    expect((await api('DELETE', `/v1/policies/${rule.id}`)).status).toBe(204);
    const deletedMs = await untilDecision(onB, LOOKUP, true, performance.now());
    for (const c of [onA, onB]) {
      expect(await unaryStatus(c, LIST)).toBe(grpc.status.OK);
      expect(await unaryStatus(c, LOOKUP)).not.toBe(grpc.status.PERMISSION_DENIED);
    }
    process.stdout.write(`replica B enforced A's policy change: POST ${deniedMs.toFixed(1)} ms, PUT ${replacedMs.toFixed(1)} ms, DELETE ${deletedMs.toFixed(1)} ms\n`);
    expect(Math.max(deniedMs, replacedMs, deletedMs)).toBeLessThan(LIMIT_MS);
  });

  it('a revocation made through A is enforced by B within 1 s, which closes the open connection; removing it restores access', async () => {
    const victim = await creds(VICTIM);
    const bystander = await creds(APP);
    const victimOnA = client(a, victim);
    const victimOnB = client(b, victim);
    const bystanderOnB = client(b, bystander);
    for (const c of [victimOnA, victimOnB, bystanderOnB]) expect(await unaryStatus(c, LIST)).toBe(grpc.status.OK);
    const victimWatch = openWatch(victimOnB);
    const bystanderWatch = openWatch(bystanderOnB);
    await within(Promise.all([victimWatch.serving, bystanderWatch.serving]), 5000, 'health watches answer');

    const revoked = await api('POST', '/v1/revocations', { spiffeId: VICTIM, reason: 'key leaked' });
    expect(revoked.status).toBe(201);
    const answeredAt = performance.now();
    const ended = await within(victimWatch.ended, POLL_MS, "the revoked client's open stream on B fails");
    // Negative when B closed it before A's HTTP answer arrived here.
    const closedMs = ended.atMs - answeredAt;
    expect(ended.code).not.toBe(grpc.status.OK);
    const deniedMs = await untilDecision(victimOnB, LIST, false, answeredAt);
    expect(await unaryStatus(victimOnA, LIST)).toBe(grpc.status.PERMISSION_DENIED);
    // Only the revoked identity's connections go: the bystander's stream and calls carry on.
    const bystanderEnded = await Promise.race([bystanderWatch.ended, new Promise((r) => setTimeout(() => r(undefined), 200))]);
    expect(bystanderEnded).toBeUndefined();
    expect(await unaryStatus(bystanderOnB, LIST)).toBe(grpc.status.OK);
    bystanderWatch.close();

    const id = String(revoked.json.id);
    expect((await api('DELETE', `/v1/revocations/${id}`)).status).toBe(204);
    const restoredMs = await untilDecision(victimOnB, LIST, true, performance.now());
    expect(await unaryStatus(victimOnA, LIST)).toBe(grpc.status.OK);
    process.stdout.write(`replica B enforced A's revocation: stream closed ${closedMs.toFixed(1)} ms, calls denied ${deniedMs.toFixed(1)} ms, restored ${restoredMs.toFixed(1)} ms\n`);
    expect(Math.max(closedMs, deniedMs, restoredMs)).toBeLessThan(LIMIT_MS);
  });
});
