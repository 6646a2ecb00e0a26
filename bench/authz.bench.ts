/**
 * Authorization benchmarks with in-run baselines.
 *
 * Decisions per second of Parley's compiled policy (`compilePolicy(rules).decide(request)`) against
 * node-casbin with Directory's model (request = trust_domain, api_method; matcher
 * `(keyMatch || regexMatch)` on both), both reading the same CSV (Parley imports it with
 * importCasbinPolicy; Casbin loads it with a StringAdapter):
 * - set `default_100p`: Directory's default lines + 100 partner lines (partner-N.example,
 *   4 read-only methods each); set `10k`: the default lines + 9,995 partner lines (4 write
 *   or sync methods each, so some lines have regex lookalike methods: Push → PushReferrer).
 * - each set is measured in its own worker thread (a fresh isolate; both engines in it).
 * - one pre-generated mix of 10,000 requests per set (own domain, partners, unknown
 *   domains, lookalike domains; every served method), cycled by every engine.
 * - baselines: `Enforcer.enforceSync` (the work of `enforce` without its promise) and
 *   `CachedEnforcer.enforce` with a warm cache (every request of the mix decided once
 *   before measuring, by the agreement check), awaited one by one.
 *   ratio = Parley / baseline (targets: >= 10 vs cached, >= 100 vs plain).
 * - agreement: on every distinct request of the mix, Casbin's and Parley's decisions must
 *   be equal except where Casbin's unanchored regexes admit a lookalike (trust domain or
 *   method); any other disagreement fails the bench.
 *
 * gRPC: p50/p99 latency of sequential health Check calls over real mTLS through
 * SecureGrpcServer with `authorize` = always allow vs `authorize` = a 10k-rule policy
 * (measureAuthorizeOverhead takes any Authorize, so the gateway's call authorizer can be
 * measured the same way). Calls alternate between the two servers so load changes hit both
 * alike; the time spent inside the authorizer is reported too (it is what the p99
 * difference estimates, without the network noise).
 *
 * Gateway: a running gateway (embedded PostgreSQL, the 10k set imported through the admin
 * API, 1,000 revocations, an allowlist, the audit trail), once with the default config and
 * once with rate limits on; the per-call time inside its call authorizer comes from its own
 * `parley_authz_duration_seconds` histogram (bucket bounds, so p50/p99 are upper bounds).
 *
 * Run on its own: compile with SWC and `node dist/bench/authz.bench.js`, or call `run()`.
 */
import { runCleanup, startBenchPostgres } from './bench-postgres';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { Registry } from 'prom-client';
import { CallAuthorizer } from '../src/authz/call-authorizer';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { ServiceDefinition } from '@grpc/proto-loader';
import { newCachedEnforcer, newEnforcer, newModelFromString, StringAdapter, type CachedEnforcer, type Enforcer } from 'casbin';
import { importCasbinPolicy } from '../src/authz/domain/casbin-import';
import { MethodRegistry } from '../src/authz/domain/methods';
import { compilePolicy, type CompiledPolicy } from '../src/authz/domain/policy';
import type { Authorize } from '../src/grpc/identity-interceptor';
import { HEALTH_PROTO } from '../src/grpc/health.service';
import { loadProto } from '../src/grpc/proto-files';
import { SecureGrpcServer } from '../src/grpc/secure-grpc-server';
import { SpiffeId, TrustDomain, X509Bundle } from '../src/spiffe';
import { FixedSvidProvider } from '../src/tls/server-identity';
import { TrustStore } from '../src/tls/trust-store';
import { adminIdOf, adminRequest, issueCreds } from '../test/support/admin-api';
import { devCaOf, startTestGateway } from '../test/support/gateway';
import { histogramQuantileBound, metricSum, scrapeMetrics } from '../test/support/prometheus';
import { TestCa } from '../test/support/test-ca';
import { spiffeChannelCredentials } from '../src/tls/client-credentials';
import type { BenchResult } from './bench-result';

export type { BenchResult };

const OWN = 'example.org';
const STORE = '/parley.store.v1.StoreService/';
const SYNC = '/parley.sync.v1.SyncService/';
const HEALTH_CHECK = '/grpc.health.v1.Health/Check';
const METHODS = [
  ...['Push', 'Pull', 'Lookup', 'Delete', 'List', 'PushReferrer', 'PullReferrer', 'DeleteReferrer'].map((m) => STORE + m),
  ...['CreateSync', 'ListSyncs', 'GetSync', 'DeleteSync', 'RequestRegistryCredentials'].map((m) => SYNC + m),
  HEALTH_CHECK,
];
const READ_ONLY = [`${STORE}Pull`, `${STORE}Lookup`, `${STORE}PullReferrer`, `${SYNC}RequestRegistryCredentials`];
const PARTNER_WRITES = [`${STORE}Push`, `${STORE}Delete`, `${SYNC}CreateSync`, `${SYNC}GetSync`, `${STORE}List`, `${SYNC}DeleteSync`];
/** The same kind of lines with methods the gateway serves (it refuses rules for unknown methods). */
const GATEWAY_PARTNER_WRITES = [`${STORE}Push`, `${STORE}Delete`, `${STORE}List`, `${STORE}PushReferrer`, `${STORE}DeleteReferrer`, `${SYNC}RequestRegistryCredentials`];
const MIX_SIZE = 10_000;
const MEASURE_MS = 1_500;
const GRPC_CALLS = 1_500;
const GRPC_ROUNDS = 2;
const silent = { debug() {}, info() {}, warn() {}, error() {} };

/** Directory's model (server/authz/model.conf of the reference), as Casbin reads it. */
const DIRECTORY_MODEL = fixture('directory-model.conf');

function fixture(name: string): string {
  // From bench/ (ts-node) or dist/bench/ (compiled).
  const candidates = [join(__dirname, '..', 'test', 'fixtures', 'casbin', name), join(__dirname, '..', '..', 'test', 'fixtures', 'casbin', name)];
  return readFileSync(candidates.find((p) => existsSync(p)) ?? candidates[0]!, 'utf8');
}

interface PolicySet {
  readonly name: string;
  readonly csv: string;
  /** Partner index → methods its lines grant. */
  readonly grants: ReadonlyMap<number, readonly string[]>;
}

/** The default lines + `partnerLines` lines: partner-N.example gets 4 distinct methods of `methods`. */
function policySet(name: string, partnerLines: number, methods: readonly string[]): PolicySet {
  const grants = new Map<number, string[]>();
  const lines = [fixture('parley-default.csv').trimEnd()];
  for (let i = 0; i < partnerLines; i++) {
    const partner = Math.floor(i / 4) + 1;
    const m = methods[(partner + (i % 4)) % methods.length]!;
    const list = grants.get(partner) ?? [];
    list.push(m);
    grants.set(partner, list);
    lines.push(`p, partner-${partner}.example, ${m}`);
  }
  return { name, csv: `${lines.join('\n')}\n`, grants };
}

type Kind = 'own' | 'partner' | 'unknown' | 'lookalike-domain';
interface Request {
  readonly trustDomain: string;
  readonly method: string;
  readonly id: SpiffeId;
  readonly kind: Kind;
  /** For partners: index into the policy set's grants. */
  readonly partner?: number;
}

/** A small deterministic PRNG (mulberry32) so every run uses the same mix. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function requestMix(set: PolicySet): { mix: Request[]; distinct: Request[] } {
  const partners = [...set.grants.keys()];
  const pick = [partners[0]!, partners[partners.length - 1]!, ...partners.filter((_p, i) => i % Math.ceil(partners.length / 8) === 0)];
  const domains: Array<{ td: string; kind: Kind; partner?: number }> = [
    { td: OWN, kind: 'own' },
    ...[...new Set(pick)].map((p) => ({ td: `partner-${p}.example`, kind: 'partner' as const, partner: p })),
    ...['unknown-1.test', 'unknown-2.test', 'other.example', 'org', 'partner.example'].map((td) => ({ td, kind: 'unknown' as const })),
    ...['example.org.evil.com', 'examplexorg', 'evil-example.org', `partner-${pick[0]}.example.attacker.test`, `xpartner-${pick[1]}.example`].map((td) => ({
      td,
      kind: 'lookalike-domain' as const,
    })),
  ];
  const distinct: Request[] = [];
  for (const d of domains) {
    for (const method of METHODS) {
      distinct.push({ trustDomain: d.td, method, id: SpiffeId.parse(`spiffe://${d.td}/ns/bench/sa/caller`), kind: d.kind, partner: d.partner });
    }
  }
  const random = prng(42);
  const mix = Array.from({ length: MIX_SIZE }, () => distinct[Math.floor(random() * distinct.length)]!);
  return { mix, distinct };
}

/** Casbin's regexes also admit a method whose name extends a granted one (`Push` → `PushReferrer`). */
function isLookalikeMethod(set: PolicySet, r: Request): boolean {
  const granted = [...READ_ONLY, ...(r.partner === undefined ? [] : (set.grants.get(r.partner) ?? []))];
  return !granted.includes(r.method) && granted.some((g) => r.method.startsWith(g));
}

/**
 * Decisions per second over `ms`, cycling through `mix`. Each engine gets its own loop
 * (below) rather than one loop taking a per-decision callback: a call site that sees several
 * engines' callbacks is no longer inlined, which would charge every engine for the harness.
 */
function measureLoop(ms: number, batchOf: (from: number, count: number) => number): number {
  let batch = 1;
  let i = 0;
  let allowed = 0;
  const start = performance.now();
  let now = start;
  while (now - start < ms) {
    const t = now;
    allowed += batchOf(i, batch);
    i += batch;
    now = performance.now();
    if (now - t < 1 && batch < 4096) batch *= 2;
  }
  if (allowed < 0) throw new Error('unreachable');
  return i / ((now - start) / 1000);
}

function parleyRate(policy: CompiledPolicy, mix: readonly Request[], ms: number): number {
  const n = mix.length;
  return measureLoop(ms, (from, count) => {
    let allowed = 0;
    for (let i = from; i < from + count; i++) {
      const r = mix[i % n]!;
      if (policy.decide({ id: r.id, method: r.method }).allowed) allowed++;
    }
    return allowed;
  });
}

function enforcerRate(enforcer: Enforcer, mix: readonly Request[], ms: number): number {
  const n = mix.length;
  return measureLoop(ms, (from, count) => {
    let allowed = 0;
    for (let i = from; i < from + count; i++) {
      const r = mix[i % n]!;
      if (enforcer.enforceSync(r.trustDomain, r.method)) allowed++;
    }
    return allowed;
  });
}

/** CachedEnforcer.enforce is async (its only API): awaited one by one, as a caller must. */
async function cachedEnforcerRate(cached: CachedEnforcer, mix: readonly Request[], ms: number): Promise<number> {
  const n = mix.length;
  let i = 0;
  let allowed = 0;
  const start = performance.now();
  let now = start;
  while (now - start < ms) {
    for (let k = 0; k < 256; k++) {
      const r = mix[i++ % n]!;
      if (await cached.enforce(r.trustDomain, r.method)) allowed++;
    }
    now = performance.now();
  }
  if (allowed < 0) throw new Error('unreachable');
  return i / ((now - start) / 1000);
}

async function decisionBench(set: PolicySet): Promise<BenchResult[]> {
  const registry = new MethodRegistry(METHODS);
  const imported = importCasbinPolicy(set.csv, { ownTrustDomain: OWN, registry });
  const errors = imported.lines.filter((l) => l.status === 'error');
  if (errors.length > 0) throw new Error(`bench: import errors: ${JSON.stringify(errors.slice(0, 3))}`);
  const policy = compilePolicy(imported.rules, { ownTrustDomain: OWN });
  const enforcer = await newEnforcer(newModelFromString(DIRECTORY_MODEL), new StringAdapter(set.csv));
  const cached = await newCachedEnforcer(newModelFromString(DIRECTORY_MODEL), new StringAdapter(set.csv));
  const { mix, distinct } = requestMix(set);

  // Agreement on every distinct request (through the cached enforcer, whose first call per
  // request is the plain evaluation; this also warms its cache with the whole mix). The only
  // allowed differences are lookalikes that Casbin's regexes admit.
  let lookalikes = 0;
  let methodLookalikes = 0;
  let allowedCount = 0;
  for (const r of distinct) {
    const parley = policy.decide({ id: r.id, method: r.method }).allowed;
    const casbin = await cached.enforce(r.trustDomain, r.method);
    if (parley) allowedCount++;
    if (parley === casbin) continue;
    const expected = !parley && casbin && (r.kind === 'lookalike-domain' || isLookalikeMethod(set, r));
    if (!expected) throw new Error(`bench: unexpected disagreement on ${r.trustDomain} ${r.method}: parley ${parley}, casbin ${casbin}`);
    lookalikes++;
    if (r.kind !== 'lookalike-domain') methodLookalikes++;
  }
  if (allowedCount === 0 || allowedCount === distinct.length) throw new Error('bench: degenerate request mix');
  for (let i = 0; i < distinct.length; i += 17) {
    const r = distinct[i]!;
    if (enforcer.enforceSync(r.trustDomain, r.method) !== (await cached.enforce(r.trustDomain, r.method))) throw new Error('bench: casbin enforcers disagree');
  }

  const parley = parleyRate(policy, mix, MEASURE_MS);
  const plain = enforcerRate(enforcer, mix, MEASURE_MS);
  const cachedRate = await cachedEnforcerRate(cached, mix, MEASURE_MS);

  const s = set.name;
  const parleyName = `authz_parley_decide_${s}`;
  return [
    { name: parleyName, value: parley, unit: 'decisions/s', baseline: `casbin_cached_enforcer_${s}`, ratio: parley / cachedRate, target: '>= 10' },
    { name: parleyName, value: parley, unit: 'decisions/s', baseline: `casbin_enforcer_${s}`, ratio: parley / plain, target: '>= 100' },
    { name: `casbin_cached_enforcer_${s}`, value: cachedRate, unit: 'decisions/s' },
    { name: `casbin_enforcer_${s}`, value: plain, unit: 'decisions/s' },
    { name: `authz_lookalike_disagreements_${s}`, value: lookalikes, unit: `of ${distinct.length} distinct requests (${methodLookalikes} by method; ${imported.rules.length} rules)` },
  ];
}

/** The compiled policy as a call authorizer (no namespace or source address conditions). */
export function policyAuthorize(policy: CompiledPolicy): Authorize {
  return (peer, methodPath) => {
    const d = policy.decide({ id: peer.id, method: methodPath });
    return { allowed: d.allowed, reason: d.reason };
  };
}

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

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
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
  const trustDomain = options.trustDomain ?? OWN;
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

async function grpcBench(set: PolicySet): Promise<BenchResult[]> {
  const imported = importCasbinPolicy(set.csv, { ownTrustDomain: OWN, registry: new MethodRegistry(METHODS) });
  const policy = compilePolicy(imported.rules, { ownTrustDomain: OWN });
  // The gateway's call authorizer (policy decision, decision metrics, audit hand-off); the
  // audit sink only counts here (the AuditWriter's record() is the same O(1) queue push).
  let audited = 0;
  const authorizer = new CallAuthorizer({ policy: { current: () => policy }, namespacedMethods: new Set(), audit: { record: () => void audited++ }, metrics: new Registry() });
  const o = await measureAuthorizeOverhead(authorizer.authorize);
  if (audited === 0) throw new Error('bench: the call authorizer audited nothing');
  const rules = imported.rules.length;
  return [
    { name: 'grpc_unary_mtls_p50_allow_all', value: o.allowAll.p50Us, unit: 'µs' },
    { name: 'grpc_unary_mtls_p99_allow_all', value: o.allowAll.p99Us, unit: 'µs' },
    { name: `grpc_unary_mtls_p50_policy_${rules}_rules`, value: o.authorized.p50Us, unit: 'µs' },
    { name: `grpc_unary_mtls_p99_policy_${rules}_rules`, value: o.authorized.p99Us, unit: 'µs' },
    { name: 'grpc_authz_p99_overhead', value: o.authorized.p99Us - o.allowAll.p99Us, unit: 'µs (target < 50)' },
    { name: 'authorize_fn_p50_allow_all', value: o.allowAllOnly.p50Us, unit: 'µs (inside the server)' },
    { name: 'authorize_fn_p99_allow_all', value: o.allowAllOnly.p99Us, unit: 'µs (inside the server)' },
    { name: `authorize_fn_p50_policy_${rules}_rules`, value: o.authorizeOnly.p50Us, unit: 'µs (inside the server)' },
    { name: `authorize_fn_p99_policy_${rules}_rules`, value: o.authorizeOnly.p99Us, unit: 'µs (inside the server)' },
    { name: 'authorize_fn_p99_overhead', value: o.authorizeOnly.p99Us - o.allowAllOnly.p99Us, unit: 'µs (target < 50; end-to-end p99 noise excluded)' },
  ];
}

/**
 * The gateway as it runs: embedded PostgreSQL, the 10k-line policy imported through the
 * admin API (`:import-casbin`), 1,000 revocations, an allowlist for the caller's trust
 * domain, rate limits on, the audit trail writing. Sequential health Check calls over mTLS;
 * the gateway's own `parley_authz_duration_seconds` histogram (time inside the call
 * authorizer, measured on every call) gives the per-call authorization time.
 */
async function gatewayBench(set: PolicySet, rateLimits: boolean): Promise<BenchResult[]> {
  const { url, cleanup } = await startBenchPostgres('parley-authz-bench');
  try {
    const limits: Record<string, string> = rateLimits ? { PARLEY_AUTHZ_RATE_LIMIT_PER_SPIFFE_ID_REQUESTS_PER_SECOND: '100000', PARLEY_AUTHZ_RATE_LIMIT_PER_TRUST_DOMAIN_REQUESTS_PER_SECOND: '100000' } : {};
    const gw = await startTestGateway({ DATABASE_URL: url, PARLEY_IDENTITY_TRUST_DOMAIN: OWN, ...limits });
    cleanup.unshift(() => gw.stop());
    const ca = await devCaOf(gw);
    const admin = await issueCreds(ca, adminIdOf(gw));
    const imported = await adminRequest(gw, ca, { certPem: admin.certPem, keyPem: admin.keyPem }, 'POST', '/v1/policies:import-casbin', {
      json: { csv: set.csv, mode: 'replace' },
      timeoutMs: 60_000,
    });
    if (imported.status !== 200) throw new Error(`bench: policy import answered ${imported.status}: ${imported.body.slice(0, 300)}`);
    const rules = gw.gateway.policies.rules().length;
    for (let i = 0; i < 1_000; i++) {
      await gw.gateway.revocations.add({ kind: 'spiffe_id', value: `spiffe://${OWN}/ns/revoked/sa/w${i}`, reason: 'bench', createdBy: 'bench' });
    }
    await gw.gateway.allowlists.set(OWN, ['127.0.0.0/8', '10.0.0.0/8', '::1/128'], 'bench');

    const issued = await ca.issue(SpiffeId.parse(`spiffe://${OWN}/ns/bench/sa/caller`));
    const Health = grpc.makeGenericClientConstructor(loadProto(HEALTH_PROTO)['grpc.health.v1.Health'] as ServiceDefinition as grpc.ServiceDefinition, 'Health');
    const creds = spiffeChannelCredentials({
      svid: { certChainPem: issued.certPem, keyPem: issued.keyPem },
      trust: gw.gateway.trustStore,
      server: { id: SpiffeId.parse(`spiffe://${OWN}/parley/gateway`) },
    });
    const client = new Health(`127.0.0.1:${gw.gateway.grpc!.port}`, creds, { 'grpc.ssl_target_name_override': OWN });
    cleanup.unshift(() => client.close());
    const check = () =>
      new Promise<void>((resolve, reject) =>
        (client as unknown as { Check(req: object, cb: (err: Error | null) => void): void }).Check({ service: '' }, (err) => (err ? reject(err) : resolve())),
      );
    // Wait until every replica-local store holds what was written (revocations, allowlist), then warm up.
    for (let i = 0; i < 200; i++) await check();
    const ops = gw.gateway.ops!.port;
    const before = await scrapeMetrics(ops);
    const latencies: number[] = [];
    for (let i = 0; i < GRPC_CALLS * GRPC_ROUNDS; i++) {
      const t = process.hrtime.bigint();
      await check();
      latencies.push(Number(process.hrtime.bigint() - t) / 1000);
    }
    const after = await scrapeMetrics(ops);
    const name = 'parley_authz_duration_seconds';
    const count = metricSum(after, `${name}_count`) - metricSum(before, `${name}_count`);
    if (count < latencies.length) throw new Error(`bench: the gateway measured ${count} authorizations for ${latencies.length} calls`);
    const meanUs = ((metricSum(after, `${name}_sum`) - metricSum(before, `${name}_sum`)) / count) * 1e6;
    const p50 = histogramQuantileBound(after, name, 0.5, before) * 1e6;
    const p99 = histogramQuantileBound(after, name, 0.99, before) * 1e6;
    const sorted = latencies.sort((a, b) => a - b);
    const audited = metricSum(after, 'parley_authz_decisions_total', { result: 'allow' }) - metricSum(before, 'parley_authz_decisions_total', { result: 'allow' });
    if (audited < latencies.length) throw new Error('bench: calls were not allowed and counted');
    const tag = `${rules}_rules${rateLimits ? '_rate_limited' : ''}`;
    return [
      { name: `gateway_authz_mean_${tag}`, value: meanUs, unit: `µs (${count} calls; 1,000 revocations, allowlist, ${rateLimits ? 'rate limits, ' : ''}audit)` },
      { name: `gateway_authz_p50_bound_${tag}`, value: p50, unit: 'µs (histogram bucket holding the median)' },
      { name: `gateway_authz_p99_bound_${tag}`, value: p99, unit: 'µs (histogram bucket holding p99; target < 50)' },
      { name: `gateway_grpc_unary_mtls_p50_${tag}`, value: percentile(sorted, 50), unit: 'µs (whole call, for scale)' },
      { name: `gateway_grpc_unary_mtls_p99_${tag}`, value: percentile(sorted, 99), unit: 'µs (whole call, for scale)' },
    ];
  } finally {
    await runCleanup(cleanup);
  }
}

/** The benchmark's policy sets by name (deterministic, so a worker builds the same one). */
const POLICY_SETS: Record<string, () => PolicySet> = {
  default_100p: () => policySet('default_100p', 100, READ_ONLY),
  '10k': () => policySet('10k', 9_995, PARTNER_WRITES),
  '10k_gateway': () => policySet('10k_gateway', 9_995, GATEWAY_PARTNER_WRITES),
};

function namedSet(name: string): PolicySet {
  const make = POLICY_SETS[name];
  if (make === undefined) throw new Error(`bench: no policy set ${name}`);
  const set = make();
  const lines = set.csv.split('\n').filter((l) => l.startsWith('p')).length;
  if (name.startsWith('10k') && lines !== 10_000) throw new Error(`bench: ${name} has ${lines} policy lines`);
  return set;
}

/**
 * Runs decisionBench for one set in a worker thread: a fresh isolate per set, so one set's
 * compiled code and heap (the 10k Casbin model is large) do not slow the next set's loops.
 * Both engines of a set run in the same worker, so their ratio stays like for like.
 */
function decisionBenchInWorker(name: string): Promise<BenchResult[]> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(__filename, { workerData: { decisionSet: name } });
    let settled = false;
    worker.once('message', (m: { results?: BenchResult[]; error?: string }) => {
      settled = true;
      if (m.results !== undefined) resolve(m.results);
      else reject(new Error(m.error ?? 'bench worker failed'));
    });
    worker.once('error', (err) => {
      settled = true;
      reject(err);
    });
    worker.once('exit', (code) => {
      if (!settled) reject(new Error(`bench worker exited with ${code}`));
    });
  });
}

export async function run(): Promise<BenchResult[]> {
  const decisions = [...(await decisionBenchInWorker('default_100p')), ...(await decisionBenchInWorker('10k'))];
  const gatewaySet = namedSet('10k_gateway');
  return [...decisions, ...(await grpcBench(namedSet('10k'))), ...(await gatewayBench(gatewaySet, false)), ...(await gatewayBench(gatewaySet, true))];
}

const decisionSet = isMainThread ? undefined : (workerData as { decisionSet?: string } | null)?.decisionSet;
if (decisionSet !== undefined) {
  decisionBench(namedSet(decisionSet)).then(
    (results) => parentPort!.postMessage({ results }),
    (err: unknown) => parentPort!.postMessage({ error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
  );
}

if (require.main === module && isMainThread) {
  run().then(
    (results) => {
      for (const r of results) process.stdout.write(`${r.name.padEnd(48)} ${r.value.toFixed(1).padStart(12)} ${r.unit}${r.ratio === undefined ? '' : `  ratio ${r.ratio.toFixed(2)} vs ${r.baseline}`}\n`);
    },
    (err: unknown) => {
      process.stderr.write(`authz bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
