/**
 * The authorization of one gRPC call, composed from the parts in ports.ts, in this order:
 *
 *   revocation → IP allowlist of the caller's trust domain → policy → rate limit
 *
 * all in memory and synchronous, before any handler runs. Methods whose request names a
 * record namespace (the store's) get a tentative decision first (`namespacePending`) and
 * their final one from the handler once it knows the namespace (`requireNamespace`); a
 * call is audited exactly once, with its final decision, when it is decided or ends.
 * Callers only ever see generic PERMISSION_DENIED / RESOURCE_EXHAUSTED texts.
 */
import type * as grpc from '@grpc/grpc-js';
import { Counter, type Registry } from 'prom-client';
import { ParleyError } from '../common/errors';
import type { AuthorizationDecision, Authorize } from '../grpc/identity-interceptor';
import { AUTHZ_CALL_METADATA_KEY } from '../grpc/identity-interceptor';
import type { PeerIdentity } from '../tls/peer-identity';
import type { Decision } from './domain';
import type { AllowlistCheck, AuditSink, PolicySource, RateLimitCheck, RevocationCheck } from './ports';

export interface CallAuthorizerOptions {
  policy: PolicySource;
  revocations?: RevocationCheck;
  allowlists?: AllowlistCheck;
  rateLimits?: RateLimitCheck;
  audit?: AuditSink;
  /** Full names of methods whose requests carry a record namespace (decided again by the handler). */
  namespacedMethods: ReadonlySet<string>;
  metrics?: Registry;
  /** Clock (ms), for tests. */
  now?: () => number;
}

/** The state of a call whose final decision waits for its namespace. */
interface PendingCall {
  readonly peer: PeerIdentity;
  readonly method: string;
  readonly atMs: number;
  /** The tentative decision, audited if the handler never resolves a namespace. */
  readonly tentative: Decision;
  audited: boolean;
}

export const RATE_LIMITED = 'rate limited';

export class CallAuthorizer {
  private readonly pending = new Map<string, PendingCall>();
  /** Tokens only need to be unique: the interceptor removes whatever a client sends under the key. */
  private nextToken = 0;
  private readonly counts = new DecisionCounts();
  private readonly now: () => number;

  constructor(private readonly o: CallAuthorizerOptions) {
    this.now = o.now ?? Date.now;
    if (o.metrics !== undefined) this.counts.register(o.metrics);
  }

  /** Calls decided but waiting for their namespace (for tests and metrics). */
  get pendingCalls(): number {
    return this.pending.size;
  }

  /** The `authorize` of SecureGrpcServer. */
  readonly authorize: Authorize = (peer, method): AuthorizationDecision => {
    const nowMs = this.now();
    const revoked = this.o.revocations?.revokedReason(peer);
    if (revoked !== undefined) return this.refuse(peer, method, nowMs, `revoked: ${revoked}`);
    const blocked = this.o.allowlists?.deniedReason(peer.trustDomain.name, peer.remoteAddress);
    if (blocked !== undefined) return this.refuse(peer, method, nowMs, `source address not allowed: ${blocked}`);

    const namespaced = this.o.namespacedMethods.has(method);
    const decision = this.o.policy.current().decide({ id: peer.id, method, sourceIp: peer.remoteAddress, namespacePending: namespaced });
    if (!decision.allowed) return this.refuse(peer, method, nowMs, decision.reason, decision.rule, decision.dryRunDenied);

    const limited = this.o.rateLimits?.limitedReason(peer, nowMs);
    if (limited !== undefined) {
      const reason = `${RATE_LIMITED}: ${limited}`;
      this.finish(peer, method, nowMs, 'deny', reason, decision.rule, undefined, undefined, 'rate_limited');
      return { allowed: false, reason, refusal: 'resource_exhausted' };
    }

    if (!namespaced) {
      this.finish(peer, method, nowMs, 'allow', decision.reason, decision.rule, decision.dryRunDenied);
      return decision;
    }
    const token = String(++this.nextToken);
    const call: PendingCall = { peer, method, atMs: nowMs, tentative: decision, audited: false };
    this.pending.set(token, call);
    return {
      allowed: true,
      reason: decision.reason,
      metadata: { [AUTHZ_CALL_METADATA_KEY]: token },
      onCallEnd: () => {
        this.pending.delete(token);
        if (!call.audited) {
          call.audited = true;
          this.finish(peer, method, nowMs, 'allow', `${decision.reason} (namespace not resolved)`, decision.rule, decision.dryRunDenied);
        }
      },
    };
  };

  private refuse(peer: PeerIdentity, method: string, nowMs: number, reason: string, rule?: string, dryRunDenied?: readonly string[]): AuthorizationDecision {
    this.finish(peer, method, nowMs, 'deny', reason, rule, dryRunDenied);
    return { allowed: false, reason };
  }

  /**
   * The final decision of a namespaced call for `namespace`; audits it (once per call).
   * @throws ParleyError `permission_denied` when the caller may not use this namespace
   */
  requireNamespace(call: { metadata: grpc.Metadata }, peer: PeerIdentity, namespace: string): void {
    const pending = this.pendingOf(call, peer);
    const d = this.decideNamespace(pending, namespace);
    if (!pending.audited) {
      pending.audited = true;
      this.finish(pending.peer, pending.method, pending.atMs, d.allowed ? 'allow' : 'deny', d.reason, d.rule, d.dryRunDenied, namespace);
    }
    if (!d.allowed) throw new ParleyError('permission_denied', `${pending.method}: namespace ${namespace}: ${d.reason}`);
  }

  /** Whether records of `namespace` are visible to this call (List filtering; not audited per record). */
  maySee(call: { metadata: grpc.Metadata }, peer: PeerIdentity, namespace: string): boolean {
    return this.decideNamespace(this.pendingOf(call, peer), namespace).allowed;
  }

  private decideNamespace(pending: PendingCall, namespace: string): Decision {
    const { peer, method } = pending;
    return this.o.policy.current().decide({ id: peer.id, method, namespace, sourceIp: peer.remoteAddress });
  }

  private pendingOf(call: { metadata: grpc.Metadata }, peer: PeerIdentity): PendingCall {
    const values = call.metadata.get(AUTHZ_CALL_METADATA_KEY);
    const token = values.length === 1 ? String(values[0]) : undefined;
    const pending = token === undefined ? undefined : this.pending.get(token);
    // Fail closed: a handler asking about a call the interceptor did not decide, or for another peer.
    if (pending === undefined || !pending.peer.id.equals(peer.id) || pending.peer.remotePort !== peer.remotePort) {
      throw new ParleyError('permission_denied', 'authorization: no decision for this call');
    }
    return pending;
  }

  private finish(
    peer: PeerIdentity,
    method: string,
    atMs: number,
    decision: 'allow' | 'deny',
    reason: string,
    rule: string | undefined,
    dryRunDenied: readonly string[] | undefined,
    namespace?: string,
    result: string = decision,
  ): void {
    this.counts.add(method, peer.trustDomain.name, result);
    this.o.audit?.record({
      at: new Date(atMs),
      spiffeId: peer.id.toString(),
      trustDomain: peer.trustDomain.name,
      sourceAddress: peer.remoteAddress,
      method,
      namespace,
      decision,
      rule,
      reason,
      dryRunDenied,
    });
  }
}

/**
 * Decision counts by method, trust domain and result, kept in nested maps (a few map
 * lookups per call) and copied into the Prometheus counter when it is scraped.
 */
class DecisionCounts {
  private readonly counts = new Map<string, Map<string, Map<string, number>>>();

  add(method: string, trustDomain: string, result: string): void {
    let byTd = this.counts.get(method);
    if (byTd === undefined) this.counts.set(method, (byTd = new Map()));
    let byResult = byTd.get(trustDomain);
    if (byResult === undefined) byTd.set(trustDomain, (byResult = new Map()));
    byResult.set(result, (byResult.get(result) ?? 0) + 1);
  }

  register(metrics: Registry): void {
    const counts = this.counts;
    new Counter({
      name: 'parley_authz_decisions_total',
      help: 'Authorization decisions on gRPC calls, by method, caller trust domain and result (allow, deny, rate_limited)',
      labelNames: ['method', 'trust_domain', 'result'] as const,
      registers: [metrics],
      collect() {
        this.reset();
        for (const [method, byTd] of counts) {
          for (const [td, byResult] of byTd) for (const [result, n] of byResult) this.inc({ method, trust_domain: td, result }, n);
        }
      },
    });
  }
}
