/**
 * Authorization time per call in a running gateway, as users run it: a `parley serve` process
 * (its own embedded PostgreSQL, the default config), set up only through its admin API and
 * CLI: a Casbin CSV imported with `POST /v1/policies:import-casbin`, 1,000 revocations, an
 * allowlist for the caller's trust domain, the audit trail writing; optionally rate limits
 * per SPIFFE ID and per trust domain. The client runs in the bench process, as a workload
 * would; it makes sequential health Check calls over mTLS. The gateway's own
 * `parley_authz_duration_seconds` histogram (time inside its call authorizer, measured on
 * every call) gives the per-call authorization time: mean exactly, p50/p99 as the upper
 * bound of the bucket holding them.
 */
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import type { ServiceDefinition } from '@grpc/proto-loader';
import { HEALTH_PROTO } from '../src/grpc/health.service';
import { loadProto } from '../src/common/proto-files';
import { SpiffeId, TrustDomain, X509Bundle } from '../src/spiffe';
import { spiffeChannelCredentials } from '../src/tls/client-credentials';
import { TrustStore } from '../src/trust/trust-store';
import { httpsRequest, type ClientCreds, type HttpsReply } from '../test/support/https-client';
import { histogramQuantileBound, metricSum, scrapeMetrics } from '../test/support/prometheus';
import { percentile, type BenchResult } from './bench-result';
import { startGatewayProcess, type GatewayProcess } from './gateway-process';

const REVOCATIONS = 1_000;
const WARMUP_CALLS = 2_000;
const MEASURED_CALLS = 3_000;
const DURATION = 'parley_authz_duration_seconds';

interface Identity {
  creds: ClientCreds & { certPem: string; keyPem: string };
  bundlePem: string;
}

/** A client SVID of the gateway's trust domain from `parley dev issue` (its development CA). */
async function issue(gw: GatewayProcess, id: string, name: string): Promise<Identity> {
  const out = join(gw.dir, name);
  await gw.cli(['dev', 'issue', '--id', id, '--out', out]);
  const read = (f: string) => readFileSync(join(out, f), 'utf8');
  return { creds: { certPem: read('svid.pem'), keyPem: read('svid.key') }, bundlePem: read('bundle.pem') };
}

type HealthClient = grpc.Client & { Check(req: object, cb: (err: grpc.ServiceError | null) => void): void };

function healthClient(gw: GatewayProcess, own: string, who: Identity): HealthClient {
  const Health = grpc.makeGenericClientConstructor(loadProto(HEALTH_PROTO)['grpc.health.v1.Health'] as ServiceDefinition as grpc.ServiceDefinition, 'Health');
  const trust = new TrustStore();
  trust.set(X509Bundle.parsePem(TrustDomain.parse(own), who.bundlePem));
  const creds = spiffeChannelCredentials({ svid: { certChainPem: who.creds.certPem, keyPem: who.creds.keyPem }, trust, server: { id: SpiffeId.parse(`spiffe://${own}/parley/gateway`) } });
  return new Health(`127.0.0.1:${gw.grpcPort}`, creds, { 'grpc.ssl_target_name_override': own }) as unknown as HealthClient;
}

function check(client: HealthClient): Promise<grpc.ServiceError | undefined> {
  return new Promise((resolve) => client.Check({ service: '' }, (err) => resolve(err ?? undefined)));
}

/**
 * @param csv the policy (Directory's Casbin CSV) to import
 * @param own the gateway's trust domain (the caller's too)
 */
export async function gatewayAuthzBench(csv: string, own: string, rateLimits: boolean): Promise<BenchResult[]> {
  const limits: Record<string, string> = rateLimits
    ? { PARLEY_AUTHZ_RATE_LIMIT_PER_SPIFFE_ID_REQUESTS_PER_SECOND: '100000', PARLEY_AUTHZ_RATE_LIMIT_PER_TRUST_DOMAIN_REQUESTS_PER_SECOND: '100000' }
    : {};
  const gw = await startGatewayProcess('parley-authz-bench', { PARLEY_IDENTITY_TRUST_DOMAIN: own, ...limits });
  const clients: grpc.Client[] = [];
  try {
    const admin = await issue(gw, `spiffe://${own}/parley/admin`, 'admin');
    const api = async (method: string, path: string, json?: unknown): Promise<HttpsReply> => {
      const res = await httpsRequest(method, `https://127.0.0.1:${gw.adminPort}${path}`, admin.bundlePem, admin.creds, `spiffe://${own}/parley/gateway`, {
        json,
        timeoutMs: 120_000,
      });
      if (res.status >= 300) throw new Error(`bench: ${method} ${path} answered ${res.status}: ${res.body.slice(0, 300)}`);
      return res;
    };
    const imported = JSON.parse((await api('POST', '/v1/policies:import-casbin', { csv, mode: 'replace' })).body) as { rules: unknown[]; applied: boolean };
    if (!imported.applied) throw new Error('bench: the policy import was not applied');
    const rules = imported.rules.length;
    const revokedIds = Array.from({ length: REVOCATIONS }, (_v, i) => `spiffe://${own}/ns/revoked/sa/w${i}`);
    for (let i = 0; i < revokedIds.length; i += 8) {
      await Promise.all(revokedIds.slice(i, i + 8).map((spiffeId) => api('POST', '/v1/revocations', { spiffeId, reason: 'bench' })));
    }
    await api('PUT', `/v1/allowlists/${own}`, { cidrs: ['127.0.0.0/8', '10.0.0.0/8', '::1/128'] });

    // The set-up is in force in the measured gateway: a revoked workload is refused.
    const revoked = healthClient(gw, own, await issue(gw, revokedIds[0]!, 'revoked'));
    clients.push(revoked);
    const refused = await check(revoked);
    if (refused?.code !== grpc.status.PERMISSION_DENIED) throw new Error(`bench: a revoked caller got ${refused === undefined ? 'an answer' : refused.message}`);

    const client = healthClient(gw, own, await issue(gw, `spiffe://${own}/ns/bench/sa/caller`, 'caller'));
    clients.push(client);
    const call = async () => {
      const err = await check(client);
      if (err !== undefined) throw new Error(`bench: health Check failed: ${err.message}`);
    };
    for (let i = 0; i < WARMUP_CALLS; i++) await call(); // connect; the gateway's code gets optimized

    const before = await scrapeMetrics(gw.opsPort);
    const latencies: number[] = [];
    for (let i = 0; i < MEASURED_CALLS; i++) {
      const t = process.hrtime.bigint();
      await call();
      latencies.push(Number(process.hrtime.bigint() - t) / 1000);
    }
    const after = await scrapeMetrics(gw.opsPort);
    const count = metricSum(after, `${DURATION}_count`) - metricSum(before, `${DURATION}_count`);
    if (count < MEASURED_CALLS) throw new Error(`bench: the gateway measured ${count} authorizations for ${MEASURED_CALLS} calls`);
    const allowed = metricSum(after, 'parley_authz_decisions_total', { result: 'allow' }) - metricSum(before, 'parley_authz_decisions_total', { result: 'allow' });
    if (allowed < MEASURED_CALLS) throw new Error('bench: calls were not allowed and counted');
    const meanUs = ((metricSum(after, `${DURATION}_sum`) - metricSum(before, `${DURATION}_sum`)) / count) * 1e6;
    const sorted = latencies.sort((a, b) => a - b);
    const tag = `${rules}_rules${rateLimits ? '_rate_limited' : ''}`;
    const setup = `${count} calls; ${REVOCATIONS.toLocaleString('en-US')} revocations, allowlist, ${rateLimits ? 'rate limits, ' : ''}audit`;
    return [
      { name: `gateway_authz_mean_${tag}`, value: meanUs, unit: `µs (${setup})` },
      { name: `gateway_authz_p50_bound_${tag}`, value: histogramQuantileBound(after, DURATION, 0.5, before) * 1e6, unit: 'µs (histogram bucket holding the median)' },
      { name: `gateway_authz_p99_bound_${tag}`, value: histogramQuantileBound(after, DURATION, 0.99, before) * 1e6, unit: 'µs (histogram bucket holding p99; target < 50)' },
      { name: `gateway_grpc_unary_mtls_p50_${tag}`, value: percentile(sorted, 50), unit: 'µs (whole call, for scale)' },
      { name: `gateway_grpc_unary_mtls_p99_${tag}`, value: percentile(sorted, 99), unit: 'µs (whole call, for scale)' },
    ];
  } catch (err) {
    throw new Error(`${err instanceof Error ? err.message : String(err)}\n--- parley serve output ---\n${gw.output()}`, { cause: err });
  } finally {
    for (const c of clients) c.close();
    await gw.stop();
  }
}
