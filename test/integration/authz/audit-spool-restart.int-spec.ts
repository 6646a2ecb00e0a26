/**
 * The audit trail loses nothing across a database outage and a restart of the gateway
 * (`parley serve` as a child process, so SIGINT is real): decisions made while PostgreSQL is
 * stopped go to the spool in the data directory, SIGINT spools what is still in memory, and
 * the next gateway replays the spool once PostgreSQL is back — each entry exactly once, a
 * torn last line skipped. A spool at its bound drops, counts and logs at error.
 */
import { appendFileSync, chmodSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { Client } from 'pg';
import { EmbeddedPostgres } from '../../../src/database/embedded-postgres';
import { DevCa } from '../../../src/identity/dev-ca/dev-ca';
import { requireSpiffeId, requireTrustDomain, X509Bundle } from '../../../src/spiffe';
import { spiffeChannelCredentials } from '../../../src/tls/client-credentials';
import { TrustStore } from '../../../src/trust/trust-store';
import { freePort, waitFor } from '../../support/ports';
import { runParley, stopAllParley, waitForReady, type ParleyProcess } from '../../support/parley-process';
import { metricSum, scrapeMetrics } from '../../support/prometheus';

jest.setTimeout(300_000);

const TD = 'acme.test';
const CHECK = '/grpc.health.v1.Health/Check';
const LIST = '/parley.store.v1.StoreService/List';
const GATEWAY = requireSpiffeId(`spiffe://${TD}/parley/gateway`);
const DECISIONS = 300;
const OUTAGE_MS = 30_000;
const pass = (b: Buffer): Buffer => b;

/** One call with an empty request: its status code. */
function call(client: grpc.Client, method: string): Promise<grpc.status> {
  return new Promise((resolve) => {
    client.makeUnaryRequest(method, pass, pass, Buffer.alloc(0), { deadline: Date.now() + 5000 }, (err) => resolve(err ? (err.code ?? grpc.status.UNKNOWN) : grpc.status.OK));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A config file: our trust domain, a deny rule for `<prefix>/intruder`, a small audit queue (the spool must do the work). */
function writeConfig(cwd: string, prefix: string, extra = ''): void {
  writeFileSync(
    join(cwd, 'parley.yaml'),
    `identity:
  trustDomain: ${TD}
authz:
  policy:
    rules:
      - { id: no-intruder, effect: deny, subjects: [{ spiffeId: "${prefix}/intruder" }], methods: ["/parley.store.v1.StoreService/*"] }
  audit:
    queueSize: 50
    batchSize: 8
    flushInterval: 20ms
${extra}`,
  );
}

describe('the audit trail across a database outage and a gateway restart (child processes)', () => {
  let pgDir: string;
  let pg: EmbeddedPostgres;
  let url: string;
  let db: Client | undefined;
  const dirs: string[] = [];
  const clients: grpc.Client[] = [];

  /** A fresh working directory (its .parley is the data directory). */
  const workDir = (): string => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-audit-spool-'));
    chmodSync(dir, 0o755);
    dirs.push(dir);
    return dir;
  };
  async function serve(cwd: string): Promise<{ proc: ParleyProcess; grpcPort: number; opsPort: number }> {
    const [grpcPort, opsPort] = [await freePort(), await freePort()];
    const proc = runParley(['serve'], { cwd, env: { DATABASE_URL: url, PARLEY_GRPC_PORT: String(grpcPort), PARLEY_OPS_PORT: String(opsPort), PARLEY_DATABASE_CONNECT_TIMEOUT_MS: '1000' } });
    await waitForReady(`http://127.0.0.1:${opsPort}`, 60_000, proc);
    return { proc, grpcPort, opsPort };
  }
  /** A gRPC client of the gateway in `cwd` with an SVID for `id` from its dev CA. */
  async function clientOf(cwd: string, grpcPort: number, id: string): Promise<grpc.Client> {
    const ca = await DevCa.open({ dir: join(cwd, '.parley', 'dev-ca', TD), trustDomain: requireTrustDomain(TD), caTtlMs: 86_400_000, svidTtlMs: 600_000, publishLeadMs: 3_600_000 });
    const issued = await ca.issue(requireSpiffeId(id));
    const trust = new TrustStore();
    trust.set(X509Bundle.parsePem(requireTrustDomain(TD), ca.bundlePem()));
    const creds = spiffeChannelCredentials({ svid: { certChainPem: issued.certPem, keyPem: issued.keyPem }, trust, server: { id: GATEWAY } });
    const c = new grpc.Client(`127.0.0.1:${grpcPort}`, creds, { 'grpc.ssl_target_name_override': TD });
    clients.push(c);
    return c;
  }
  const metric = async (opsPort: number, name: string, labels: Record<string, string> = {}) => metricSum(await scrapeMetrics(opsPort), name, labels);
  async function query<T>(sql: string, params: unknown[] = []): Promise<T[]> {
    if (db === undefined) {
      db = new Client({ connectionString: url });
      db.on('error', () => undefined);
      await db.connect();
    }
    return (await db.query(sql, params)).rows as T[];
  }
  async function stopPostgres(): Promise<void> {
    await db?.end().catch(() => undefined);
    db = undefined;
    await pg.stop();
  }
  const rowsOf = (prefix: string) =>
    query<{ n: number; ids: number; allows: number; first: Date; last: Date }>(
      `SELECT count(*)::int AS n, count(DISTINCT entry_id)::int AS ids, count(*) FILTER (WHERE decision = 'allow')::int AS allows, min(at) AS first, max(at) AS last
       FROM authz_audit WHERE spiffe_id LIKE $1`,
      [`${prefix}/%`],
    ).then((r) => r[0]!);

  beforeAll(async () => {
    pgDir = mkdtempSync(join(tmpdir(), 'parley-audit-spool-pg-'));
    chmodSync(pgDir, 0o755);
    // Our own PostgreSQL on a fixed port, so it can be stopped and started again under the gateways.
    pg = new EmbeddedPostgres({ dir: join(pgDir, 'pg'), port: await freePort(), startTimeoutMs: 60_000 });
    url = await pg.start();
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await stopAllParley();
    await db?.end().catch(() => undefined);
    await pg?.stop();
    for (const dir of [...dirs, pgDir]) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it(`${DECISIONS} decisions during a ${OUTAGE_MS / 1000} s outage and a SIGINT restart: exactly ${DECISIONS} rows, a torn last spool line skipped`, async () => {
    const prefix = `spiffe://${TD}/ns/outage`;
    const cwd = workDir();
    writeConfig(cwd, prefix);
    const first = await serve(cwd);
    const app = await clientOf(cwd, first.grpcPort, `${prefix}/app`);
    const intruder = await clientOf(cwd, first.grpcPort, `${prefix}/intruder`);
    expect(await call(app, CHECK)).toBe(grpc.status.OK);
    await waitFor(async () => (await rowsOf(prefix)).n === 1, 10_000);

    await stopPostgres();
    const outageStarted = Date.now();
    // Paced over two thirds of the outage; every other one is a denial.
    for (let i = 0; i < DECISIONS; i++) {
      const [client, method, want] = i % 2 === 0 ? [app, CHECK, grpc.status.OK] : [intruder, LIST, grpc.status.PERMISSION_DENIED];
      expect({ i, code: grpc.status[await call(client, method)] }).toEqual({ i, code: grpc.status[want] });
      await sleep(Math.max(0, outageStarted + ((i + 1) * (OUTAGE_MS * 2)) / 3 / DECISIONS - Date.now()));
    }
    expect(await metric(first.opsPort, 'parley_authz_audit_write_failures_total')).toBeGreaterThan(0);
    expect(await metric(first.opsPort, 'parley_authz_audit_dropped_total')).toBe(0);
    // SIGINT while the database is still away: what is in memory goes to the spool too.
    expect(await first.proc.stop('SIGINT')).toEqual({ code: 0, signal: null });
    const firstLog = first.proc.output();
    expect(firstLog).toContain('audit: cannot write to the database; keeping entries in the spool');
    expect(firstLog).not.toContain('they are dropped');
    const spoolDir = join(cwd, '.parley', 'audit-spool');
    expect(readdirSync(spoolDir)).toEqual(['audit-0.spool']);
    const spoolFile = join(spoolDir, 'audit-0.spool');
    const spooledBytes = statSync(spoolFile).size;
    expect(spooledBytes).toBeGreaterThan(DECISIONS * 100);
    // A crash in the middle of a write leaves a torn last line.
    appendFileSync(spoolFile, '1a2b3c4d {"v":1,"id":"0190');

    await sleep(Math.max(0, outageStarted + OUTAGE_MS - Date.now()));
    url = await pg.start();
    const outageEnded = Date.now();
    const second = await serve(cwd);
    await waitFor(async () => (await metric(second.opsPort, 'parley_authz_audit_spool_bytes')) === 0, 30_000);
    const rows = await rowsOf(prefix);
    // The one before the outage, then the outage's decisions: each exactly once.
    expect({ n: rows.n, ids: rows.ids, allows: rows.allows }).toEqual({ n: DECISIONS + 1, ids: DECISIONS + 1, allows: DECISIONS / 2 + 1 });
    const window = await query<{ n: number }>(`SELECT count(*)::int AS n FROM authz_audit WHERE spiffe_id LIKE $1 AND at >= $2 AND at < $3`, [
      `${prefix}/%`,
      new Date(outageStarted),
      new Date(outageEnded),
    ]);
    expect(window[0]!.n).toBe(DECISIONS);
    expect(await metric(second.opsPort, 'parley_authz_audit_replayed_total')).toBe(DECISIONS);
    expect(await metric(second.opsPort, 'parley_authz_audit_spool_skipped_lines_total', { problem: 'torn' })).toBe(1);
    expect(second.proc.output()).toContain('audit spool: torn last line skipped (a crash while it was written)');
    expect(second.proc.child.exitCode).toBeNull();
    expect(await second.proc.stop('SIGINT')).toEqual({ code: 0, signal: null });
    process.stdout.write(`audit spool: ${DECISIONS} decisions in a ${OUTAGE_MS / 1000} s outage, SIGINT restart: ${rows.n - 1} rows (${rows.ids - 1} distinct ids), spool ${spooledBytes} bytes\n`);
  });

  it('a spool at its bound drops what does not fit, counts it and logs at error; what it holds is written', async () => {
    const prefix = `spiffe://${TD}/ns/bounded`;
    const cwd = workDir();
    writeConfig(cwd, prefix, '    spoolMaxBytes: 4096\n');
    const gw = await serve(cwd);
    const app = await clientOf(cwd, gw.grpcPort, `${prefix}/app`);
    expect(await call(app, CHECK)).toBe(grpc.status.OK);
    await waitFor(async () => (await rowsOf(prefix)).n === 1, 10_000);

    await stopPostgres();
    const calls = 60;
    for (let i = 0; i < calls; i++) {
      expect(await call(app, CHECK)).toBe(grpc.status.OK);
      if (i % 10 === 9) await sleep(200);
    }
    await waitFor(async () => (await metric(gw.opsPort, 'parley_authz_audit_queue_depth')) === 0, 15_000);
    const spooled = await metric(gw.opsPort, 'parley_authz_audit_spooled_total');
    const dropped = await metric(gw.opsPort, 'parley_authz_audit_dropped_total', { reason: 'spool_full' });
    expect(spooled).toBeGreaterThan(0);
    expect(spooled + dropped).toBe(calls);
    expect(dropped).toBeGreaterThan(calls / 2);
    expect(await metric(gw.opsPort, 'parley_authz_audit_dropped_total')).toBe(dropped);
    const spoolBytes = await metric(gw.opsPort, 'parley_authz_audit_spool_bytes');
    expect(spoolBytes).toBeLessThanOrEqual(4096);
    expect(spoolBytes).toBeGreaterThan(4096 - 500);
    const errors = gw.proc
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { level: number; msg: string })
      .filter((l) => l.level === 50);
    expect(errors.map((l) => l.msg)).toEqual(['audit spool: full (authz.audit.spoolMaxBytes); new audit entries are dropped']);

    url = await pg.start();
    await waitFor(async () => (await metric(gw.opsPort, 'parley_authz_audit_spool_bytes')) === 0, 30_000);
    expect((await rowsOf(prefix)).n).toBe(1 + spooled);
    expect(gw.proc.output()).toContain('audit spool: entries were dropped while the spool was full');
    expect(await gw.proc.stop('SIGINT')).toEqual({ code: 0, signal: null });
  });
});
