/**
 * The authorization of one gRPC call, composed from the parts in ports.ts, in this order:
 *
 *   revocation → IP allowlist of the caller's trust domain → policy → rate limit
 *
 * all in memory and synchronous, before any handler runs. Methods whose request names a
 * record namespace (the store's) get a tentative decision first (`namespacePending`) and
 * an `AuthorizedCall`, the call's context, whose `requireNamespace` gives the final one once
 * the handler knows the namespace; a call is audited exactly once, with its final decision,
 * when it is decided or ends. Callers only ever see generic PERMISSION_DENIED /
 * RESOURCE_EXHAUSTED texts.
 */
import { Counter, type Registry } from 'prom-client';
import { FastHistogram } from '../ops';
import { ParleyError } from '../common';
import type { PeerIdentity } from '../tls';
import type { CompiledPolicy, Decision } from './domain';
import type { AllowlistCheck, AuditRecord, AuditSink, GrantAction, GrantVerifier, PolicySource, PresentedGrant, RateLimitCheck, RevocationCheck } from './ports';

export interface CallAuthorizerOptions {
  policy: PolicySource;
  revocations?: RevocationCheck;
  allowlists?: AllowlistCheck;
  rateLimits?: RateLimitCheck;
  audit?: AuditSink;
  /** Full names of methods whose requests carry a record namespace (decided again by the handler). */
  namespacedMethods: ReadonlySet<string>;
  /** Full names of methods decided here but audited by their handler (`refuse` with its reason, or `end`). */
  handlerAuditedMethods?: ReadonlySet<string>;
  metrics?: Registry;
  /** Clock (ms), for tests. */
  now?: () => number;
}

/** What the authorizer answers for one call (the transport's AuthorizationDecision). */
export interface CallDecision {
  readonly allowed: boolean;
  /** Why: goes to the log and the audit, never to the caller. */
  readonly reason: string;
  /** The status: a refused grant is `unauthenticated` (the caller asks for a new one), a rate limit `resource_exhausted`. */
  readonly refusal?: 'permission_denied' | 'resource_exhausted' | 'unauthenticated';
  /** The context of an allowed call whose final decision waits for its namespace. */
  readonly context?: AuthorizedCall;
}

/**
 * An allowed call whose final decision waits for its namespace: the call's context, which
 * its handler receives through the transport. Audited once: by `requireNamespace` or
 * `refuse`, or with the tentative decision when the call ends without either.
 */
export class AuthorizedCall {
  private audited = false;

  constructor(
    private readonly authorizer: CallAuthorizer,
    readonly peer: PeerIdentity,
    readonly method: string,
    private readonly atMs: number,
    /** The tentative decision, audited if the handler never resolves a namespace. */
    readonly tentative: Decision,
    /** The policy the call was admitted under, and its connection's namespace decisions under it. */
    private readonly admittedUnder: CompiledPolicy,
    private readonly namespaces: Map<string, Decision> | undefined,
    /** False for a method decided at admission whose handler only finishes the audit. */
    private readonly namespaced = true,
    /** A call under a grant: each namespace must be within it (and no deny rule may match). */
    private readonly grant?: { readonly presented: PresentedGrant; readonly action: GrantAction },
  ) {}

  /** @throws ParleyError permission_denied when the caller may not use this namespace */
  requireNamespace(namespace: string, annotations?: Readonly<Record<string, string>>): void {
    const d = this.decide(namespace, annotations);
    if (!this.audited) {
      this.audited = true;
      this.authorizer.finishCall(new CallAuditEntry(this.peer, this.method, this.atMs, d.allowed ? 'allow' : 'deny', d.reason, d.rule, d.dryRunDenied, namespace));
    }
    if (!d.allowed) throw new ParleyError('permission_denied', `${this.method}: namespace ${namespace}: ${d.reason}`);
  }

  maySee(namespace: string, annotations?: Readonly<Record<string, string>>): boolean {
    return this.decide(namespace, annotations).allowed;
  }

  refuse(result: string, reason: string, namespace?: string): void {
    if (this.audited) return;
    this.audited = true;
    this.authorizer.finishCall(new CallAuditEntry(this.peer, this.method, this.atMs, 'deny', `${result}: ${reason}`, this.tentative.rule, undefined, namespace), result);
  }

  end(): void {
    if (this.audited) return;
    this.audited = true;
    const t = this.tentative;
    this.authorizer.finishCall(new CallAuditEntry(this.peer, this.method, this.atMs, 'allow', this.namespaced ? `${t.reason} (namespace not resolved)` : t.reason, t.rule, t.dryRunDenied));
  }

  /**
   * The policy's decision for `namespace`. A connection's earlier decision for the same
   * method and namespace stands while the policy it was made under is in force (timeless
   * policies only: see ConnectionMemo).
   */
  private decide(namespace: string, annotations?: Readonly<Record<string, string>>): Decision {
    if (this.grant !== undefined) return this.decideGranted(namespace, annotations, this.grant.presented, this.grant.action);
    const policy = this.authorizer.policyNow();
    const remembered = policy === this.admittedUnder ? this.namespaces : undefined;
    const known = remembered?.get(namespace);
    if (known !== undefined) return known;
    const decision = policy.decide({ id: this.peer.id, method: this.method, namespace, sourceIp: this.peer.remoteAddress });
    if (remembered !== undefined && remembered.size < MEMO_NAMESPACES) remembered.set(namespace, decision);
    return decision;
  }

  /** Under a grant the export decides, not the allow rules; a deny rule still wins. */
  private decideGranted(namespace: string, annotations: Readonly<Record<string, string>> | undefined, grant: PresentedGrant, action: GrantAction): Decision {
    const d = this.authorizer.policyNow().decide({ id: this.peer.id, method: this.method, namespace, sourceIp: this.peer.remoteAddress });
    if (!d.allowed && d.rule !== undefined) return d;
    if (!grant.allows(action, namespace, annotations)) return { allowed: false, reason: `namespace ${namespace} is outside grant ${grant.id}`, dryRunDenied: d.dryRunDenied };
    return { allowed: true, reason: `within grant ${grant.id}`, dryRunDenied: d.dryRunDenied };
  }
}

/**
 * A call's audit entry as the authorizer hands it to the sink, made on the request path: one
 * object of references (the connection's peer, the decision's shared strings) and the time
 * as a number; the caller's fields and the Date are read from them when the entry is read.
 */
export class CallAuditEntry implements AuditRecord {
  constructor(
    private readonly peer: PeerIdentity,
    readonly method: string,
    private readonly atMs: number,
    readonly decision: 'allow' | 'deny',
    readonly reason: string,
    readonly rule?: string,
    readonly dryRunDenied?: readonly string[],
    /** The record namespace the decision covered, when the method has one. */
    readonly namespace?: string,
  ) {}

  get at(): Date {
    return new Date(this.atMs);
  }

  get spiffeId(): string {
    return this.peer.spiffeId;
  }

  get trustDomain(): string {
    return this.peer.trustDomain.name;
  }

  get sourceAddress(): string {
    return this.peer.remoteAddress;
  }
}

/** One decision counter. */
interface CountCell {
  n: number;
}

/** What an allowed call of one method established for a connection. */
interface MemoEntry {
  /** The policy's decision (tentative for namespaced methods). */
  readonly decision: Decision;
  readonly namespaced: boolean;
  /** The handler finishes the call's audit (namespaced and handler-audited methods): the call gets an AuthorizedCall. */
  readonly deferred: boolean;
  /** Namespaced methods under a timeless policy: the final decisions by namespace (at most MEMO_NAMESPACES). */
  readonly namespaces: Map<string, Decision> | undefined;
  /** The allow counter of (method, trust domain), for methods decided here. */
  readonly allowed: CountCell | undefined;
}

/**
 * Per connection (its PeerIdentity), the methods it was allowed to call, with what that
 * depended on: the compiled policy (only one whose decisions never change, `timeless`), the
 * revocation and allowlist versions. While all three are unchanged, a repeated call skips
 * straight to the rate limit and the audit: the revocation, allowlist and policy checks
 * would give the same answer. Any change, or a policy with expiring rules, means full checks.
 */
interface ConnectionMemo {
  readonly peer: PeerIdentity;
  readonly policy: CompiledPolicy;
  readonly revocations: number | undefined;
  readonly allowlists: number | undefined;
  readonly methods: Record<string, MemoEntry | undefined>;
  /** Entries in `methods` (at most MEMO_METHODS: a client may call any method name). */
  size: number;
}

const MEMO_METHODS = 64;
const MEMO_NAMESPACES = 64;
/** Connection memos kept (a power of two). */
const MEMO_SLOTS = 4096;
const MEMO_SLOT_MASK = MEMO_SLOTS - 1;

export const RATE_LIMITED = 'rate limited';

/** The store methods a grant may be presented on, with the export action each needs. */
const GRANT_ACTIONS: Readonly<Record<string, GrantAction | undefined>> = Object.assign(Object.create(null) as Record<string, GrantAction>, {
  '/parley.store.v1.StoreService/List': 'list',
  '/parley.store.v1.StoreService/Lookup': 'lookup',
  '/parley.store.v1.StoreService/Pull': 'pull',
  '/parley.store.v1.StoreService/PullReferrer': 'pull_referrer',
});

const BEARER = 'Bearer ';

/** The request metadata the authorizer reads (grpc-js Metadata). */
export interface CallMetadata {
  get(key: string): ReadonlyArray<string | Buffer>;
}

/** The grant of `authorization: Bearer <grant>`; null when the header is there but is not one bearer token (refused). */
function bearerOf(metadata: CallMetadata | undefined): string | null | undefined {
  const values = metadata?.get('authorization');
  if (values === undefined || values.length === 0) return undefined;
  const value = values[0];
  if (values.length !== 1 || typeof value !== 'string' || value.length <= BEARER.length || value.slice(0, BEARER.length) !== BEARER) return null;
  return value.slice(BEARER.length);
}
/** Buckets of `parley_authz_duration_seconds` (1 µs to 10 ms; the target is a p99 under 50 µs). */
export const AUTHZ_DURATION_BUCKETS = [1e-6, 2.5e-6, 5e-6, 1e-5, 2e-5, 3e-5, 4e-5, 5e-5, 6e-5, 7.5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 1e-2];

export class CallAuthorizer {
  private readonly counts = new DecisionCounts();
  /**
   * Per connection, direct-mapped by the serial of the peer's SpiffeId object (one per
   * connection): a slot holds one connection's memo, a newer connection in the same slot
   * replaces it. An array read and a compare, where a WeakMap would hash.
   */
  private readonly memos: Array<ConnectionMemo | undefined> = new Array<ConnectionMemo | undefined>(MEMO_SLOTS).fill(undefined);
  private readonly now: () => number;
  private readonly durations: FastHistogram | undefined;
  private grants: GrantVerifier | undefined;

  constructor(private readonly o: CallAuthorizerOptions) {
    this.now = o.now ?? Date.now;
    if (o.metrics !== undefined) {
      this.counts.register(o.metrics);
      // On every call: a histogram whose observe() costs next to nothing (see FastHistogram).
      this.durations = new FastHistogram(
        'parley_authz_duration_seconds',
        'Time spent authorizing a gRPC call before its handler runs: revocation, allowlist, policy, rate limit and the audit hand-off',
        AUTHZ_DURATION_BUCKETS,
        o.metrics,
      );
    }
  }

  /** Accept grants on the store's read methods (set once by the wiring; without it every presented grant is refused). */
  useGrants(verifier: GrantVerifier): void {
    if (this.grants !== undefined) throw new TypeError('CallAuthorizer: a grant verifier is set already');
    this.grants = verifier;
  }

  /** The `authorize` of SecureGrpcServer; its own run time goes to `parley_authz_duration_seconds`. */
  readonly authorize = (peer: PeerIdentity, method: string, metadata?: CallMetadata): CallDecision => {
    if (this.durations === undefined) return this.decideCall(peer, method, metadata);
    const start = performance.now();
    try {
      return this.decideCall(peer, method, metadata);
    } finally {
      this.durations.observe((performance.now() - start) / 1000);
    }
  };

  private decideCall(peer: PeerIdentity, method: string, metadata: CallMetadata | undefined): CallDecision {
    const nowMs = this.now();
    const policy = this.o.policy.compiled;
    const action = GRANT_ACTIONS[method];
    if (action !== undefined) {
      const token = bearerOf(metadata);
      if (token !== undefined) return this.decideGranted(peer, method, action, token, nowMs, policy);
    }
    // A connection's earlier allowed call of this method stands while nothing it depended on
    // changed (see ConnectionMemo); otherwise every check runs.
    const memo = this.memoOf(peer, policy);
    let entry = memo?.methods[method];
    if (entry === undefined) {
      const revoked = this.o.revocations?.revokedReason(peer);
      if (revoked !== undefined) return this.refuse(peer, method, nowMs, `revoked: ${revoked}`);
      const blocked = this.o.allowlists?.deniedReason(peer.trustDomain.name, peer.remoteAddress);
      if (blocked !== undefined) return this.refuse(peer, method, nowMs, `source address not allowed: ${blocked}`);

      const namespaced = this.o.namespacedMethods.has(method);
      const deferred = namespaced || this.o.handlerAuditedMethods?.has(method) === true;
      const decision = policy.decide({ id: peer.id, method, sourceIp: peer.remoteAddress, namespacePending: namespaced });
      if (!decision.allowed) return this.refuse(peer, method, nowMs, decision.reason, decision.rule, decision.dryRunDenied);
      entry = {
        decision,
        namespaced,
        deferred,
        namespaces: namespaced && policy.timeless ? new Map() : undefined,
        allowed: deferred ? undefined : this.counts.cell(method, peer.trustDomain.name, 'allow'),
      };
      if (memo === undefined) this.remember(peer, policy, method, entry);
      else if (memo.size < MEMO_METHODS) {
        memo.methods[method] = entry;
        memo.size++;
      }
    }
    const { decision, deferred } = entry;

    const limited = this.o.rateLimits?.limitedReason(peer, nowMs);
    if (limited !== undefined) {
      const reason = `${RATE_LIMITED}: ${limited}`;
      this.finishCall(new CallAuditEntry(peer, method, nowMs, 'deny', reason, decision.rule), 'rate_limited');
      return { allowed: false, reason, refusal: 'resource_exhausted' };
    }

    if (!deferred) {
      entry.allowed!.n++;
      this.o.audit?.record(new CallAuditEntry(peer, method, nowMs, 'allow', decision.reason, decision.rule, decision.dryRunDenied));
      return decision;
    }
    return { allowed: true, reason: decision.reason, context: new AuthorizedCall(this, peer, method, nowMs, decision, policy, entry.namespaces, entry.namespaced) };
  }

  /**
   * A call presenting a grant: revocation and allowlist first (revoking the caller voids its
   * grants at once), then the grant, then no deny rule may match; the allow rules do not
   * apply: each namespace the call reaches must be within the grant. Never memoized.
   */
  private decideGranted(peer: PeerIdentity, method: string, action: GrantAction, token: string | null, nowMs: number, policy: CompiledPolicy): CallDecision {
    const revoked = this.o.revocations?.revokedReason(peer);
    if (revoked !== undefined) return this.refuse(peer, method, nowMs, `revoked: ${revoked}`);
    const blocked = this.o.allowlists?.deniedReason(peer.trustDomain.name, peer.remoteAddress);
    if (blocked !== undefined) return this.refuse(peer, method, nowMs, `source address not allowed: ${blocked}`);
    let presented: PresentedGrant;
    try {
      if (token === null) throw new Error('authorization metadata is not one bearer grant');
      if (this.grants === undefined) throw new Error('this gateway accepts no grants');
      presented = this.grants.verify(token, peer, nowMs);
    } catch (err) {
      const reason = (err as { details?: { reason?: unknown } } | null)?.details?.reason;
      const why = typeof reason === 'string' ? reason : token === null || this.grants === undefined ? (err as Error).message : 'invalid grant';
      return { ...this.refuse(peer, method, nowMs, `grant refused: ${why}`), refusal: 'unauthenticated' };
    }
    const tentative = policy.decide({ id: peer.id, method, sourceIp: peer.remoteAddress, namespacePending: true });
    if (!tentative.allowed && tentative.rule !== undefined) return this.refuse(peer, method, nowMs, tentative.reason, tentative.rule, tentative.dryRunDenied);
    const limited = this.o.rateLimits?.limitedReason(peer, nowMs);
    if (limited !== undefined) {
      const reason = `${RATE_LIMITED}: ${limited}`;
      this.finishCall(new CallAuditEntry(peer, method, nowMs, 'deny', reason), 'rate_limited');
      return { allowed: false, reason, refusal: 'resource_exhausted' };
    }
    const decision: Decision = { allowed: true, reason: `grant ${presented.id}`, dryRunDenied: tentative.dryRunDenied };
    return { allowed: true, reason: decision.reason, context: new AuthorizedCall(this, peer, method, nowMs, decision, policy, undefined, true, { presented, action }) };
  }

  /** The policy in force (an AuthorizedCall's namespace decisions). */
  policyNow(): CompiledPolicy {
    return this.o.policy.compiled;
  }


  /** The peer's memo, when it is still valid for `policy` and the current revocations and allowlists. */
  private memoOf(peer: PeerIdentity, policy: CompiledPolicy): ConnectionMemo | undefined {
    const memo = this.memos[peer.id.serial & MEMO_SLOT_MASK];
    if (memo === undefined || memo.peer !== peer) return undefined;
    if (memo.policy === policy && memo.revocations === this.o.revocations?.version && memo.allowlists === this.o.allowlists?.version) return memo;
    this.memos[peer.id.serial & MEMO_SLOT_MASK] = undefined;
    return undefined;
  }

  /** Starts a memo for the peer, when every part it depends on can tell that it changed. */
  private remember(peer: PeerIdentity, policy: CompiledPolicy, method: string, entry: MemoEntry): void {
    const { revocations, allowlists } = this.o;
    if (!policy.timeless || (revocations !== undefined && revocations.version === undefined) || (allowlists !== undefined && allowlists.version === undefined)) return;
    const methods = Object.create(null) as Record<string, MemoEntry | undefined>;
    methods[method] = entry;
    this.memos[peer.id.serial & MEMO_SLOT_MASK] = { peer, policy, revocations: revocations?.version, allowlists: allowlists?.version, methods, size: 1 };
  }

  private refuse(peer: PeerIdentity, method: string, nowMs: number, reason: string, rule?: string, dryRunDenied?: readonly string[]): CallDecision {
    this.finishCall(new CallAuditEntry(peer, method, nowMs, 'deny', reason, rule, dryRunDenied));
    return { allowed: false, reason };
  }

  /** Counts and audits a call's final decision (also an AuthorizedCall's). */
  finishCall(entry: CallAuditEntry, result: string = entry.decision): void {
    this.counts.cell(entry.method, entry.trustDomain, result).n++;
    this.o.audit?.record(entry);
  }
}

/**
 * Decision counts by method, trust domain and result, kept in nested maps (a few map
 * lookups per call) and copied into the Prometheus counter when it is scraped.
 */
class DecisionCounts {
  private readonly counts = new Map<string, Map<string, Map<string, CountCell>>>();

  /** The counter of one (method, trust domain, result); kept by connection memos. */
  cell(method: string, trustDomain: string, result: string): CountCell {
    let byTd = this.counts.get(method);
    if (byTd === undefined) this.counts.set(method, (byTd = new Map()));
    let byResult = byTd.get(trustDomain);
    if (byResult === undefined) byTd.set(trustDomain, (byResult = new Map()));
    let cell = byResult.get(result);
    if (cell === undefined) byResult.set(result, (cell = { n: 0 }));
    return cell;
  }

  register(metrics: Registry): void {
    const counts = this.counts;
    new Counter({
      name: 'parley_authz_decisions_total',
      help: 'Authorization decisions on gRPC calls, by method, caller trust domain and result (allow, deny, rate_limited, concurrency_limit)',
      labelNames: ['method', 'trust_domain', 'result'] as const,
      registers: [metrics],
      collect() {
        this.reset();
        for (const [method, byTd] of counts) {
          for (const [td, byResult] of byTd) for (const [result, cell] of byResult) if (cell.n > 0) this.inc({ method, trust_domain: td, result }, cell.n);
        }
      },
    });
  }
}
