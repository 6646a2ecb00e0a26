/**
 * The upload buffer budget holds the gateway's memory: 1,000 idle Pushes (10 connections x
 * 100 streams, each sending its header and a 1 MiB - 1 byte chunk, one byte short of a
 * stored chunk, so a push that read it would keep it in memory) keep the gateway's RSS
 * under 600 MB, and Health keeps answering. The per-caller caps are raised out of the way so
 * that the budget alone bounds memory. The gateway is a child process (`parley serve` on the
 * suite's PostgreSQL), so the RSS measured is its own.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ClientHttp2Session } from 'node:http2';
import { startGatewayProcess, type GatewayProcess } from '../../../bench/gateway-process';
import { DevCa } from '../../../src/identity/dev-ca/dev-ca';
import { requireSpiffeId, requireTrustDomain } from '../../../src/spiffe';
import { spiffeChannelCredentials } from '../../../src/tls/client-credentials';
import { TrustStore } from '../../../src/trust/trust-store';
import { X509Bundle } from '../../../src/spiffe';
import { healthClient, check } from '../../support/grpc-health-client';
import { createTestDatabase } from '../../support/pg';
import { waitFor } from '../../support/ports';
import { metricSum, scrapeMetrics } from '../../support/prometheus';
import { framedPushChunk, framedPushHeader, openCall, rawSession, type RawClientIdentity } from '../../support/raw-grpc';

jest.setTimeout(300_000);

const CONNECTIONS = 10;
const STREAMS_PER_CONNECTION = 100;
const MiB = 1024 * 1024;
const RSS_LIMIT_BYTES = 600 * 1000 * 1000;
const TD = 'acme.test';

function rssOf(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'));
  if (line === undefined) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(/(\d+)/.exec(line)![1]) * 1024;
}

describe('upload memory under 1,000 idle pushes', () => {
  let gateway: GatewayProcess;
  let db: { url: string; drop(): Promise<void> };
  const sessions: ClientHttp2Session[] = [];

  beforeAll(async () => {
    db = await createTestDatabase('mem');
    gateway = await startGatewayProcess('parley-capacity-memory', {
      PARLEY_DATABASE_URL: db.url,
      PARLEY_IDENTITY_TRUST_DOMAIN: TD,
      PARLEY_LOG_LEVEL: 'info',
      PARLEY_STORE_PUSHES_PER_SPIFFE_ID: '1000',
      PARLEY_STORE_PUSHES_PER_TRUST_DOMAIN: '1000',
      PARLEY_STORE_UPLOAD_BUFFER_WAIT: '5m',
      PARLEY_STORE_PUSH_IDLE_TIMEOUT: '5m',
      PARLEY_STORE_STAGING_TTL: '30m',
    });
  });
  afterAll(async () => {
    for (const s of sessions) s.destroy();
    await gateway?.stop();
    await db?.drop();
  });

  it('keeps RSS under 600 MB and Health answering', async () => {
    const ca = await DevCa.open({ dir: join(gateway.dir, '.parley', 'dev-ca', TD), trustDomain: requireTrustDomain(TD), caTtlMs: 30 * 86_400_000, svidTtlMs: 600_000, publishLeadMs: 3_600_000 });
    const caPem = ca.bundlePem();
    const trust = new TrustStore();
    trust.set(X509Bundle.parsePem(requireTrustDomain(TD), caPem));
    const healthSvid = await ca.issue(requireSpiffeId(`spiffe://${TD}/ns/health`));
    const health = healthClient(
      `127.0.0.1:${gateway.grpcPort}`,
      spiffeChannelCredentials({ svid: { certChainPem: healthSvid.certPem, keyPem: healthSvid.keyPem }, trust, server: { id: requireSpiffeId(`spiffe://${TD}/parley/gateway`) } }),
    );
    expect(await check(health)).toBe('SERVING');
    const baseline = rssOf(gateway.pid);

    // One header and one 1 MiB - 1 byte chunk, framed once and written to every stream (no copy per stream in this process).
    const header = framedPushHeader({ namespace: 'ns', media_type: 'application/octet-stream', annotations: {} });
    const chunk = framedPushChunk(Buffer.alloc(MiB - 1, 7));
    for (let c = 0; c < CONNECTIONS; c++) {
      const svid = await ca.issue(requireSpiffeId(`spiffe://${TD}/ns/idle-${c}`));
      const id: RawClientIdentity = { certPem: svid.certPem, keyPem: svid.keyPem, caPem };
      const session = await rawSession(gateway.grpcPort, id);
      sessions.push(session);
      for (let s = 0; s < STREAMS_PER_CONNECTION; s++) openCall(session, '/parley.store.v1.StoreService/Push', [header, chunk]);
    }
    await waitFor(async () => metricSum(await scrapeMetrics(gateway.opsPort), 'parley_store_streams_running', { kind: 'push' }) === CONNECTIONS * STREAMS_PER_CONNECTION, 60_000, 250);

    // Sample while the pushes sit there, until the gateway takes no more of what the clients send (their
    // sockets' bytes written stand still for 3 s; at most 60 rounds); Health must answer every time.
    let peak = 0;
    const healthMs: number[] = [];
    const sent = () => sessions.reduce((sum, s) => sum + (s.socket?.bytesWritten ?? 0), 0);
    let last = -1;
    let still = 0;
    for (let round = 0; round < 60 && still < 6; round++) {
      peak = Math.max(peak, rssOf(gateway.pid));
      const started = performance.now();
      expect(await check(health)).toBe('SERVING');
      healthMs.push(performance.now() - started);
      await new Promise((r) => setTimeout(r, 500));
      const now = sent();
      still = now === last ? still + 1 : 0;
      last = now;
    }
    peak = Math.max(peak, rssOf(gateway.pid));
    const samples = await scrapeMetrics(gateway.opsPort);
    const reserved = metricSum(samples, 'parley_store_upload_buffer_reserved_bytes');
    const waiting = metricSum(samples, 'parley_store_upload_buffer_waiting');
    process.stdout.write(`capacity-memory: baseline RSS ${(baseline / 1e6).toFixed(0)} MB, peak ${(peak / 1e6).toFixed(0)} MB; reserved ${(reserved / MiB).toFixed(0)} MiB, waiting ${waiting}; clients sent ${(last / MiB).toFixed(0)} MiB; Health max ${Math.max(...healthMs).toFixed(0)} ms\n`);
    health.close();
    expect(peak).toBeLessThan(RSS_LIMIT_BYTES);
    // The budget (256 MiB, 19 MiB a push with the defaults) lets 13 pushes read; the rest wait, reading nothing.
    expect(waiting).toBe(CONNECTIONS * STREAMS_PER_CONNECTION - 13);
  });
});
