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
 * - first-seen callers: Parley with a new SpiffeId object per decision (parsed before its
 *   batch of 10,000 is timed, used once), so no decision finds the per-connection (per
 *   object) memo a connection's repeated calls hit; the decision cache by ID text still
 *   answers. And with a never-seen SPIFFE ID per decision (its own path), so no cache
 *   answers at all. Both against the plain `Enforcer` of the same round (Casbin caches nothing).
 * - after a warm-up, 5 rounds of 400 ms per engine, the engines in turn within a round;
 *   rate = the engine's median over the rounds; ratio = the median over the rounds of
 *   Parley / baseline in that round (targets: >= 10 vs cached, >= 100 vs plain, for a
 *   connection's repeated calls), printed with the range of the rounds' ratios.
 * - agreement: on every distinct request of the mix, Casbin's and Parley's decisions must
 *   be equal except where Casbin's unanchored regexes admit a lookalike (trust domain or
 *   method); any other disagreement fails the bench.
 *
 * gRPC (authz-grpc.ts): sequential health Checks over real mTLS through SecureGrpcServer in
 * the bench process, with the gateway's call authorizer on the 10k set vs allow-all.
 *
 * Gateway (authz-gateway.ts): a `parley serve` process set up through its admin API (the 10k
 * set imported, 1,000 revocations, an allowlist, the audit trail), once with the default
 * config and once with rate limits on; the per-call time inside its call authorizer comes
 * from its own `parley_authz_duration_seconds` histogram (bucket bounds, so p50/p99 are upper
 * bounds). This is the per-call authorization time the target (p99 < 50 µs) refers to.
 *
 * Run on its own: compile with SWC and `node dist/bench/authz.bench.js`, or call `run()`.
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { newCachedEnforcer, newEnforcer, newModelFromString, StringAdapter, type CachedEnforcer, type Enforcer } from 'casbin';
import { importCasbinPolicy } from '../src/authz/domain/casbin-import';
import { MethodRegistry } from '../src/authz/domain/methods';
import { compilePolicy, type CompiledPolicy } from '../src/authz/domain/policy';
import { SpiffeId } from '../src/spiffe';
import { median, type BenchResult } from './bench-result';
import { gatewayAuthzBench } from './authz-gateway';
import { grpcAuthzBench } from './authz-grpc';

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
/** Decision bench: a warm-up per engine, then rounds of every engine in turn. */
const WARMUP_MS = 300;
const ROUNDS = 5;
const ROUND_MS = 400;

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
  /** The ID's text (first-seen measurements parse it afresh). */
  readonly idText: string;
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
      const idText = `spiffe://${d.td}/ns/bench/sa/caller`;
      distinct.push({ trustDomain: d.td, method, id: SpiffeId.parse(idText), idText, kind: d.kind, partner: d.partner });
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

/** Decisions per batch of the first-seen measurements (their SpiffeIds are made before the batch is timed). */
const FIRST_SEEN_BATCH = 10_000;

/**
 * Decisions per second of timed time when no decision finds its SpiffeId object cached: each
 * batch of the mix gets fresh objects, parsed before the batch is timed, each used once. With
 * `unseenIds`, every ID's text is new as well (a path of its own), so the decision cache by ID
 * text misses too: a caller the gateway has never seen.
 */
function parleyFirstSeenRate(policy: CompiledPolicy, mix: readonly Request[], ms: number, unseenIds: boolean): number {
  const n = mix.length;
  const ids = new Array<SpiffeId>(FIRST_SEEN_BATCH);
  let i = 0;
  let timedMs = 0;
  let allowed = 0;
  while (timedMs < ms) {
    for (let k = 0; k < FIRST_SEEN_BATCH; k++) {
      const r = mix[(i + k) % n]!;
      ids[k] = SpiffeId.parse(unseenIds ? `spiffe://${r.trustDomain}/ns/bench/sa/caller-${unseenSerial++}` : r.idText);
    }
    const start = performance.now();
    for (let k = 0; k < FIRST_SEEN_BATCH; k++) {
      if (policy.decide({ id: ids[k]!, method: mix[(i + k) % n]!.method }).allowed) allowed++;
    }
    timedMs += performance.now() - start;
    i += FIRST_SEEN_BATCH;
  }
  if (allowed < 0) throw new Error('unreachable');
  return i / (timedMs / 1000);
}
let unseenSerial = 0;

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
  // Never-seen IDs fill the decision cache until it starts over: on a policy of their own, so
  // that churn never empties the cache the other Parley measurements read.
  const unseenPolicy = compilePolicy(imported.rules, { ownTrustDomain: OWN });
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

  // A warm-up of each engine, then ROUNDS rounds of all three in turn: a slow spell of the
  // machine hits the engines of one round alike, so each round's ratio is like for like and
  // the reported ratio is the median of the rounds' (the rates: each engine's median).
  parleyRate(policy, mix, WARMUP_MS);
  enforcerRate(enforcer, mix, WARMUP_MS);
  await cachedEnforcerRate(cached, mix, WARMUP_MS);
  parleyFirstSeenRate(policy, mix, WARMUP_MS, false);
  parleyFirstSeenRate(unseenPolicy, mix, WARMUP_MS, true);
  const rounds: Array<{ parley: number; plain: number; cached: number; firstSeen: number; unseen: number }> = [];
  for (let r = 0; r < ROUNDS; r++) {
    rounds.push({
      parley: parleyRate(policy, mix, ROUND_MS),
      plain: enforcerRate(enforcer, mix, ROUND_MS),
      cached: await cachedEnforcerRate(cached, mix, ROUND_MS),
      firstSeen: parleyFirstSeenRate(policy, mix, ROUND_MS, false),
      unseen: parleyFirstSeenRate(unseenPolicy, mix, ROUND_MS, true),
    });
  }
  const parley = median(rounds.map((x) => x.parley));
  const plain = median(rounds.map((x) => x.plain));
  const cachedRate = median(rounds.map((x) => x.cached));
  const ratios = (of: (x: (typeof rounds)[number]) => number, engine: (x: (typeof rounds)[number]) => number = (x) => x.parley) => {
    const each = rounds.map((x) => engine(x) / of(x));
    const digits = Math.max(...each) >= 1000 ? 0 : 2;
    return { ratio: median(each), range: `per-round ratios ${Math.min(...each).toFixed(digits)}–${Math.max(...each).toFixed(digits)}` };
  };
  const vsCached = ratios((x) => x.cached);
  const vsPlain = ratios((x) => x.plain);
  const firstSeenVsPlain = ratios((x) => x.plain, (x) => x.firstSeen);
  const unseenVsPlain = ratios((x) => x.plain, (x) => x.unseen);

  const s = set.name;
  const parleyName = `authz_parley_decide_${s}`;
  const unit = `decisions/s (median of ${ROUNDS} rounds; ratio: median of the rounds', `;
  return [
    { name: parleyName, value: parley, unit: `${unit}${vsCached.range})`, baseline: `casbin_cached_enforcer_${s}`, ratio: vsCached.ratio, target: '>= 10' },
    { name: parleyName, value: parley, unit: `${unit}${vsPlain.range})`, baseline: `casbin_enforcer_${s}`, ratio: vsPlain.ratio, target: '>= 100' },
    {
      name: `authz_parley_decide_first_seen_${s}`,
      value: median(rounds.map((x) => x.firstSeen)),
      unit: `decisions/s (a new SpiffeId object per decision, no per-connection memo hit; ${unit.slice('decisions/s ('.length)}${firstSeenVsPlain.range})`,
      baseline: `casbin_enforcer_${s}`,
      ratio: firstSeenVsPlain.ratio,
    },
    {
      name: `authz_parley_decide_unseen_id_${s}`,
      value: median(rounds.map((x) => x.unseen)),
      unit: `decisions/s (a SPIFFE ID never seen before per decision: no cache hit at all; ${unit.slice('decisions/s ('.length)}${unseenVsPlain.range})`,
      baseline: `casbin_enforcer_${s}`,
      ratio: unseenVsPlain.ratio,
    },
    { name: `casbin_cached_enforcer_${s}`, value: cachedRate, unit: 'decisions/s' },
    { name: `casbin_enforcer_${s}`, value: plain, unit: 'decisions/s' },
    { name: `authz_lookalike_disagreements_${s}`, value: lookalikes, unit: `of ${distinct.length} distinct requests (${methodLookalikes} by method; ${imported.rules.length} rules)` },
  ];
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

/** The gRPC part on the 10k set (compiled here, as the decision bench does). */
function grpcBench(set: PolicySet): Promise<BenchResult[]> {
  const imported = importCasbinPolicy(set.csv, { ownTrustDomain: OWN, registry: new MethodRegistry(METHODS) });
  return grpcAuthzBench(compilePolicy(imported.rules, { ownTrustDomain: OWN }), imported.rules.length, OWN);
}

export async function run(): Promise<BenchResult[]> {
  const decisions = [...(await decisionBenchInWorker('default_100p')), ...(await decisionBenchInWorker('10k'))];
  const gatewayCsv = namedSet('10k_gateway').csv;
  return [...decisions, ...(await grpcBench(namedSet('10k'))), ...(await gatewayAuthzBench(gatewayCsv, OWN, false)), ...(await gatewayAuthzBench(gatewayCsv, OWN, true))];
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
