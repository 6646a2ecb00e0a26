/**
 * Authorization over real mTLS inside the bench process: p50/p99 latency of sequential health
 * Check calls through SecureGrpcServer with `authorize` = always allow vs `authorize` = the
 * gateway's CallAuthorizer on a compiled policy. Calls alternate between the two servers so
 * load changes hit both alike; the time spent inside the authorizer is reported too (it is
 * what the p99 difference estimates, without the network noise). Client and servers share
 * the bench's thread, so every call finds the authorizer's code and data evicted by the
 * client's work: an upper bound, next to authz-gateway.ts's gateway process.
 */
import * as grpc from '@grpc/grpc-js';
import type { ServiceDefinition } from '@grpc/proto-loader';
import { Registry } from 'prom-client';
import { CallAuthorizer } from '../src/authz/call-authorizer';
import type { CompiledPolicy } from '../src/authz/domain/policy';
import type { Authorize } from '../src/grpc';
import { HEALTH_PROTO } from '../src/grpc/health.service';
import { loadProto } from '../src/common/proto-files';
import { SecureGrpcServer } from '../src/grpc/secure-grpc-server';
import { TrustDomain, X509Bundle } from '../src/spiffe';
import { FixedSvidProvider } from '../src/tls/server-identity';
import { TrustStore } from '../src/trust/trust-store';
import { TestCa } from '../test/support/test-ca';
import { percentile, type BenchResult } from './bench-result';

const GRPC_CALLS = 1_500;
const GRPC_ROUNDS = 2;
const silent = { debug() {}, info() {}, warn() {}, error() {} };

export interface Latency {
  p50Us: number;
  p99Us: number;
}

export interface AuthorizeOverhead {
  /** Call latency with an always-allow authorizer. */
  allowAll: Latency;
  /** Call latency with the measured authorizer. */
  authorized: Latency;
  /** Time spent inside the always-allow authorizer per call. */
  allowAllOnly: Latency;
  /** Time spent inside the measured authorizer per call (synchronous part). */
  authorizeOnly: Latency;
}

/**
 * p50/p99 latency (µs) of `calls` sequential unary calls (health Check) over real mTLS,
 * through a SecureGrpcServer with `authorize` vs one that allows everything; the caller is
 * `spiffe://<trustDomain>/ns/bench/sa/caller` and `authorize` must allow it.
 */
export async function measureAuthorizeOverhead(
  authorize: Authorize,
  options: { trustDomain?: string; calls?: number; rounds?: number } = {},
): Promise<AuthorizeOverhead> {
  const trustDomain = options.trustDomain ?? 'example.org';
  const calls = options.calls ?? GRPC_CALLS;
  const rounds = options.rounds ?? GRPC_ROUNDS;
  const ca = await TestCa.create({ trustDomain });
  const serverSvid = await ca.issueSvid({ id: `spiffe://${trustDomain}/parley/gateway` });
  const clientSvid = await ca.issueSvid({ id: `spiffe://${trustDomain}/ns/bench/sa/caller` });
  const trust = new TrustStore();
  trust.set(X509Bundle.parsePem(TrustDomain.parse(trustDomain), ca.bundlePem()));
  const start = async (a: Authorize) => {
    const server = new SecureGrpcServer({
      host: '127.0.0.1',
      port: 0,
      ownTrustDomain: TrustDomain.parse(trustDomain),
      identity: new FixedSvidProvider({ certChainPem: serverSvid.chainPem, keyPem: serverSvid.keyPem }),
      trustStore: trust,
      authorize: a,
      logger: silent,
    });
    const { port } = await server.start();
    return { server, port };
  };
  const Health = grpc.makeGenericClientConstructor(loadProto(HEALTH_PROTO)['grpc.health.v1.Health'] as ServiceDefinition as grpc.ServiceDefinition, 'Health');
  const creds = grpc.credentials.createSsl(Buffer.from(ca.bundlePem()), Buffer.from(clientSvid.keyPem), Buffer.from(clientSvid.chainPem), {
    checkServerIdentity: () => undefined,
  });
  // Both authorizers run inside the same timing wrapper, so its own cost cancels out.
  const inside: number[][] = [[], []];
  const timed =
    (a: Authorize, out: number[]): Authorize =>
    (peer, method) => {
      const t = process.hrtime.bigint();
      const d = a(peer, method);
      out.push(Number(process.hrtime.bigint() - t) / 1000);
      return d;
    };
  const allowAll: Authorize = () => ({ allowed: true, reason: 'bench: allow all' });
  const sides = [await start(timed(allowAll, inside[0]!)), await start(timed(authorize, inside[1]!))];
  const clients = sides.map((s) => new Health(`127.0.0.1:${s.port}`, creds, { 'grpc.ssl_target_name_override': 'parley.test' }));
  try {
    const check = (c: grpc.Client) =>
      new Promise<void>((resolve, reject) =>
        (c as unknown as { Check(req: object, cb: (err: Error | null) => void): void }).Check({ service: '' }, (err) => (err ? reject(err) : resolve())),
      );
    for (const c of clients) for (let i = 0; i < 200; i++) await check(c); // connect and warm up
    for (const xs of inside) xs.length = 0;
    // One call on each side in turn (order flipped every pair), so load changes hit both alike.
    const samples: number[][] = [[], []];
    for (let i = 0; i < calls * rounds; i++) {
      for (const side of i % 2 === 0 ? [0, 1] : [1, 0]) {
        const t = process.hrtime.bigint();
        await check(clients[side]!);
        samples[side]!.push(Number(process.hrtime.bigint() - t) / 1000);
      }
    }
    const stats = (xs: number[]): Latency => {
      const sorted = [...xs].sort((a, b) => a - b);
      return { p50Us: percentile(sorted, 50), p99Us: percentile(sorted, 99) };
    };
    return { allowAll: stats(samples[0]!), authorized: stats(samples[1]!), allowAllOnly: stats(inside[0]!), authorizeOnly: stats(inside[1]!) };
  } finally {
    for (const c of clients) c.close();
    for (const s of sides) await s.server.stop(500);
  }
}

/** The gateway's CallAuthorizer with `policy` (of `rules` rules, for `trustDomain`) through measureAuthorizeOverhead. */
export async function grpcAuthzBench(policy: CompiledPolicy, rules: number, trustDomain: string): Promise<BenchResult[]> {
  // The gateway's call authorizer (policy decision, decision metrics, audit hand-off); the
  // audit sink only counts here (the AuditWriter's record() is the same O(1) queue push).
  let audited = 0;
  const authorizer = new CallAuthorizer({ policy: { compiled: policy }, namespacedMethods: new Set(), audit: { record: () => void audited++ }, metrics: new Registry() });
  const o = await measureAuthorizeOverhead(authorizer.authorize, { trustDomain });
  if (audited === 0) throw new Error('bench: the call authorizer audited nothing');
  return [
    { name: 'grpc_unary_mtls_p50_allow_all', value: o.allowAll.p50Us, unit: 'µs' },
    { name: 'grpc_unary_mtls_p99_allow_all', value: o.allowAll.p99Us, unit: 'µs' },
    { name: `grpc_unary_mtls_p50_policy_${rules}_rules`, value: o.authorized.p50Us, unit: 'µs' },
    { name: `grpc_unary_mtls_p99_policy_${rules}_rules`, value: o.authorized.p99Us, unit: 'µs' },
    { name: 'grpc_authz_p99_overhead', value: o.authorized.p99Us - o.allowAll.p99Us, unit: 'µs (end-to-end difference; noise at this scale)' },
    { name: 'authorize_fn_p50_allow_all', value: o.allowAllOnly.p50Us, unit: 'µs (inside the server)' },
    { name: 'authorize_fn_p99_allow_all', value: o.allowAllOnly.p99Us, unit: 'µs (inside the server)' },
    { name: `authorize_fn_p50_policy_${rules}_rules`, value: o.authorizeOnly.p50Us, unit: 'µs (inside the server)' },
    { name: `authorize_fn_p99_policy_${rules}_rules`, value: o.authorizeOnly.p99Us, unit: 'µs (inside the server)' },
    { name: 'authorize_fn_p99_overhead', value: o.authorizeOnly.p99Us - o.allowAllOnly.p99Us, unit: 'µs (in the bench process, sharing its thread with the client; see gateway_authz_p99_bound_*)' },
  ];
}

