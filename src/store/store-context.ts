import { ParleyError } from '../common/errors';
import type { PeerIdentity } from '../tls/peer-identity';
import type { TransportLogger } from '../tls/tls-logger';
import type { StoreLimits } from './domain/limits';
import type { StoreRepository } from './store.repository';

/** What every store handler needs. */
export interface StoreHandlerContext {
  readonly repository: StoreRepository;
  readonly limits: StoreLimits;
  readonly logger: TransportLogger;
  /** The verified peer of a call; UNAUTHENTICATED when there is none (the identity interceptor normally refused it already). */
  requirePeer(call: { getPeer(): string }): PeerIdentity;
}

export function storeHandlerContext(o: {
  repository: StoreRepository;
  limits: StoreLimits;
  logger: TransportLogger;
  peerOf(call: { getPeer(): string }): PeerIdentity | undefined;
}): StoreHandlerContext {
  return {
    repository: o.repository,
    limits: o.limits,
    logger: o.logger,
    requirePeer(call) {
      const peer = o.peerOf(call);
      if (peer === undefined) throw new ParleyError('unauthenticated', 'store: no verified peer for this call');
      return peer;
    },
  };
}
