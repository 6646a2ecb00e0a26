import type * as grpc from '@grpc/grpc-js';
import { ParleyError } from '../common';
import type { PeerIdentity } from '../tls';

/**
 * One admitted call, resolved once by the identity interceptor: who called (the verified
 * peer of the connection, its trust domain and SPIFFE ID), what, and the authorization
 * decision so far. Handlers finish the decision with `requireNamespace` once they know the
 * record namespace; the call is audited once, with its final decision.
 */
export interface CallContext {
  readonly peer: PeerIdentity;
  /** Full method name, `/package.Service/Method`. */
  readonly method: string;
  /**
   * The caller may use records of `namespace` in this call: the call's final decision
   * (audited once per call).
   * @throws ParleyError permission_denied
   */
  requireNamespace(namespace: string): void;
  /** Whether a record of `namespace` may be shown to this call (List filtering; not audited per record). */
  maySee(namespace: string): boolean;
  /** A capacity limit refused the call the policy allowed: its final decision, audited once (`result` e.g. concurrency_limit). */
  refuse(result: string, reason: string, namespace?: string): void;
  /** Called once by the transport when the call ends (status sent, or cancelled). */
  end(): void;
}

/** An admission the interceptor's decision was final for: every namespace is open to the call. */
export function decidedContext(peer: PeerIdentity, method: string): CallContext {
  return { peer, method, requireNamespace() {}, maySee: () => true, refuse() {}, end() {} };
}

/**
 * Contexts by the request metadata object of their call: grpc-js hands the handler the very
 * Metadata instance the interceptor passed on, and nothing a client sends can name an entry.
 */
const contexts = new WeakMap<grpc.Metadata, CallContext>();

/** Binds a call's context to its request metadata (the identity interceptor, before the handler starts). */
export function bindCallContext(metadata: grpc.Metadata, context: CallContext): void {
  contexts.set(metadata, context);
}

/**
 * The context of an admitted call. Fails closed: a call the identity interceptor did not
 * admit has none, and is refused.
 * @throws ParleyError unauthenticated
 */
export function callContextOf(call: { readonly metadata: grpc.Metadata }): CallContext {
  const context = contexts.get(call.metadata);
  if (context === undefined) throw new ParleyError('unauthenticated', 'grpc: no admitted caller for this call');
  return context;
}
