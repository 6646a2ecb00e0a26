/**
 * The embedded PostgreSQL of a real `parley serve` (a child process) is killed with -9: gRPC
 * Health turns NOT_SERVING, /readyz 503 and Pushes fail with UNAVAILABLE (retryable) while it
 * is down; the gateway restarts it with backoff, and Health, /readyz and Pushes come back,
 * each within a bounded wait.
 */
import { X509Certificate } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { freePort, waitFor } from '../../support/ports';
import { httpsGet } from '../../support/https-client';
import { httpGet, runParley, runParleyToEnd, stopAllParley, waitForReady } from '../../support/parley-process';
import { metricSum, scrapeMetrics } from '../../support/prometheus';
import { check, healthClient } from '../../support/tls-clients';
import { runCli } from '../cli/cli-process';

jest.setTimeout(180_000);

const TRAINER = 'spiffe://parley.local/ns/ml/sa/trainer';
const GATEWAY = 'spiffe://parley.local/parley/gateway';
const ADMIN = 'spiffe://parley.local/parley/admin';
/** Long enough to observe the outage from outside: the first restart waits this long. */
const RESTART_BACKOFF_MS = 8000;

/** The pid PostgreSQL wrote to postmaster.pid (its first line). */
function postmasterPid(pgdata: string): number {
  return Number(readFileSync(join(pgdata, 'postmaster.pid'), 'utf8').split('\n')[0]);
}

describe('a supervised embedded PostgreSQL', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'parley-supervised-'));
  chmodSync(cwd, 0o755); // the postgres user must be able to reach .parley/
  const pgdata = join(cwd, '.parley', 'postgres', 'pgdata');
  const channels: grpc.Client[] = [];
  afterAll(async () => {
    for (const c of channels) c.close();
    await stopAllParley();
    rmSync(cwd, { recursive: true, force: true });
  });

  it('restarts after kill -9 of the postmaster: NOT_SERVING and UNAVAILABLE while down, SERVING and Pushes after', async () => {
    const [grpcPort, opsPort, adminPort] = [await freePort(), await freePort(), await freePort()];
    const ops = `http://127.0.0.1:${opsPort}`;
    const gateway = runParley(['serve'], {
      cwd,
      env: {
        PARLEY_GRPC_PORT: String(grpcPort),
        PARLEY_OPS_PORT: String(opsPort),
        PARLEY_ADMIN_PORT: String(adminPort),
        PARLEY_DATABASE_HEALTH_INTERVAL: '200ms',
        PARLEY_DATABASE_EMBEDDED_RESTART_BACKOFF: `${RESTART_BACKOFF_MS}ms`,
      },
    });
    await waitForReady(ops, 60_000, gateway);

    const issued = await runParleyToEnd(['dev', 'issue', '--id', TRAINER, '--out', join(cwd, 'trainer')], { cwd });
    expect(issued.code).toBe(0);
    const [svid, key, bundle] = ['svid.pem', 'svid.key', 'bundle.pem'].map((f) => join(cwd, 'trainer', f));
    expect((await runParleyToEnd(['dev', 'issue', '--id', ADMIN, '--out', join(cwd, 'admin')], { cwd })).code).toBe(0);
    const admin = { certPem: readFileSync(join(cwd, 'admin', 'svid.pem'), 'utf8'), keyPem: readFileSync(join(cwd, 'admin', 'svid.key'), 'utf8') };
    const auditList = () => httpsGet(`https://127.0.0.1:${adminPort}/v1/audit?pageSize=1`, readFileSync(bundle, 'utf8'), admin, GATEWAY);
    expect((await auditList()).status).toBe(200);
    const identity = ['--svid', svid, '--key', key, '--bundle', bundle, '--server', `127.0.0.1:${grpcPort}`];
    const credentials = grpc.credentials.createSsl(readFileSync(bundle), readFileSync(key), readFileSync(svid), {
      checkServerIdentity: (_host, cert) => (new X509Certificate(cert.raw).subjectAltName === `URI:${GATEWAY}` ? undefined : new Error('not the gateway')),
    });
    const health = healthClient(grpcPort, credentials);
    channels.push(health);
    const payload = join(cwd, 'payload.bin');
    const push = async (content: string) => {
      writeFileSync(payload, content);
      return runCli(['push', payload, '-n', 'ml/outage', '-q', ...identity], cwd, 30_000);
    };

    expect(await check(health)).toBe('SERVING');
    const before = await push('before the outage');
    expect({ code: before.code, stderr: before.stderr }).toEqual({ code: 0, stderr: '' });
    const cid = before.stdout.trim();
    expect((await runCli(['lookup', cid, ...identity], cwd)).code).toBe(0); // now in the record cache

    const killed = postmasterPid(pgdata);
    process.kill(killed, 'SIGKILL');

    // Down: Health NOT_SERVING (balancers move traffic), /readyz agrees, a Push is retryable.
    await waitFor(async () => (await check(health)) === 'NOT_SERVING', 3000, 50);
    const ready = await httpGet(`${ops}/readyz`);
    expect(ready.status).toBe(503);
    expect(ready.body).toContain('database unreachable');
    const adminDuring = await auditList();
    expect({ status: adminDuring.status, body: JSON.parse(adminDuring.body) as unknown }).toEqual({ status: 503, body: expect.objectContaining({ code: 'unavailable', detail: 'database unavailable; retry later' }) });
    const during = await push('during the outage');
    expect(during.code).toBe(1);
    expect(during.stderr).toBe('parley: UNAVAILABLE: database unavailable; retry later\n');
    const cached = await runCli(['lookup', cid, ...identity], cwd);
    expect({ code: cached.code, stderr: cached.stderr }).toEqual({ code: 0, stderr: '' });
    expect(cached.stdout).toContain(cid);
    expect(await check(health)).toBe('NOT_SERVING');

    // Restarted by the gateway: SERVING, ready, Pushes succeed again.
    await waitFor(async () => (await check(health)) === 'SERVING', 60_000, 100);
    expect((await httpGet(`${ops}/readyz`)).status).toBe(200);
    const after = await push('after the outage');
    expect({ code: after.code, stderr: after.stderr }).toEqual({ code: 0, stderr: '' });
    expect(after.stdout).toMatch(/^baf[a-z2-7]+\n$/);
    const restarted = postmasterPid(pgdata);
    expect(restarted).not.toBe(killed);
    expect(() => process.kill(restarted, 0)).not.toThrow();

    const samples = await scrapeMetrics(opsPort);
    expect(metricSum(samples, 'parley_db_embedded_restarts_total', { outcome: 'ok' })).toBe(1);
    expect(metricSum(samples, 'parley_db_up')).toBe(1);
    const errors = gateway
      .output()
      .split('\n')
      .filter((line) => line.includes('"level":50'));
    expect(errors.filter((line) => line.includes('postgres exited unexpectedly (signal SIGKILL)'))).toHaveLength(1);
    expect(gateway.output()).toContain('"msg":"embedded database: restarted"');
    // The change feed listens again (and reloads shared state) on its own.
    await waitFor(() => gateway.output().includes('change feed: listening again; reloading shared state'), 15_000, 100);

    expect((await gateway.stop('SIGINT')).code).toBe(0);
  });
});
