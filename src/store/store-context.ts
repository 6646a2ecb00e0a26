import type * as grpc from '@grpc/grpc-js';
import type { Registry } from 'prom-client';
import { StoreCapacity } from './store-capacity';
import { StoreMetrics } from './store-metrics';
import { ParleyError } from '../common/errors';
import type { PeerIdentity } from '../tls/peer-identity';
import type { TransportLogger } from '../tls/tls-logger';
import type { StoreLimits } from './domain/limits';
import type { StoreRepository } from './store.repository';

/**
 * Namespace-level authorization (the gateway's CallAuthorizer): the interceptor decided the
 * call tentatively; the handler finishes the decision once it knows the record namespace.
 */
export interface NamespaceGate {
  /** @throws ParleyError permission_denied (audited once per call) */
  requireNamespace(call: { metadata: grpc.Metadata }, peer: PeerIdentity, namespace: string): void;
  /** Whether records of this namespace may be shown to the call (List filtering). */
  maySee(call: { metadata: grpc.Metadata }, peer: PeerIdentity, namespace: string): boolean;
  /** The store refused the call for a capacity limit: its final decision, audited once (`result` e.g. concurrency_limit). */
  refuseCall?(call: { metadata: grpc.Metadata }, peer: PeerIdentity, result: string, reason: string, namespace?: string): void;
}

/** What every store handler needs. */
export interface StoreHandlerContext {
  readonly repository: StoreRepository;
  readonly limits: StoreLimits;
  readonly logger: TransportLogger;
  /** The verified peer of a call; UNAUTHENTICATED when there is none (the identity interceptor normally refused it already). */
  requirePeer(call: { getPeer(): string }): PeerIdentity;
  readonly metrics: StoreMetrics | undefined;
  /** Per-caller concurrency caps and the upload buffer budget. */
  readonly capacity: StoreCapacity;
  /** Refuses the call unless its caller may use `namespace` (no gate: allowed). */
  requireNamespace(call: { metadata: grpc.Metadata }, peer: PeerIdentity, namespace: string): void;
  /** Whether a record of `namespace` is visible to the call (no gate: yes). */
  maySee(call: { metadata: grpc.Metadata }, peer: PeerIdentity, namespace: string): boolean;
}

export function storeHandlerContext(o: {
  repository: StoreRepository;
  limits: StoreLimits;
  logger: TransportLogger;
  peerOf(call: { getPeer(): string }): PeerIdentity | undefined;
  namespaces?: NamespaceGate;
  metrics?: Registry;
}): StoreHandlerContext {
  const gate = o.namespaces;
  const audit = gate?.refuseCall === undefined ? undefined : gate.refuseCall.bind(gate);
  return {
    metrics: o.metrics === undefined ? undefined : new StoreMetrics(o.metrics),
    capacity: new StoreCapacity(o.limits, o.logger, audit, o.metrics),
    repository: o.repository,
    limits: o.limits,
    logger: o.logger,
    requirePeer(call) {
      const peer = o.peerOf(call);
      if (peer === undefined) throw new ParleyError('unauthenticated', 'store: no verified peer for this call');
      return peer;
    },
    requireNamespace(call, peer, namespace) {
      o.namespaces?.requireNamespace(call, peer, namespace);
    },
    maySee(call, peer, namespace) {
      return o.namespaces === undefined || o.namespaces.maySee(call, peer, namespace);
    },
  };
}
