import * as grpc from '@grpc/grpc-js';
import type { TrustDomain } from '../spiffe';
import { peerLogFields, type PeerDirectory, type PeerIdentity, type TransportLogger } from '../tls';
import { bindCallContext, decidedContext, type CallContext } from './call-context';

export interface AuthorizationDecision {
  readonly allowed: boolean;
  /** Why: goes to the log and the audit, never to the caller. */
  readonly reason: string;
  /** The status of a refusal (default PERMISSION_DENIED). */
  readonly refusal?: 'permission_denied' | 'resource_exhausted';
  /**
   * The admitted call's context, which its handler receives (`callContextOf`); absent when
   * the decision is final for every namespace.
   */
  readonly context?: CallContext;
}

/** Decides whether a verified peer may call a method (`/package.Service/Method`). */
export type Authorize = (peer: PeerIdentity, methodPath: string) => AuthorizationDecision | Promise<AuthorizationDecision>;

/** The default until the policy engine plugs in: the own trust domain may call anything, nobody else anything. */
export function ownTrustDomainOnly(own: TrustDomain): Authorize {
  return (peer) =>
    peer.trustDomain.equals(own)
      ? { allowed: true, reason: `own trust domain ${own.name}` }
      : { allowed: false, reason: `trust domain ${peer.trustDomain.name} is not the own trust domain ${own.name}` };
}

export interface IdentityInterceptorOptions {
  peers: PeerDirectory;
  authorize: Authorize;
  logger: TransportLogger;
}

/**
 * The first server interceptor: resolves the verified peer of the call's connection
 * (none → UNAUTHENTICATED) and asks `authorize` (no → PERMISSION_DENIED) when the request
 * metadata arrives — before the handler is started, which grpc-js only does once the
 * metadata is passed on. An admitted call's context is bound to that metadata for its
 * handler (`callContextOf`). Callers get generic messages; the reason is logged.
 */
export function identityInterceptor(o: IdentityInterceptorOptions): grpc.ServerInterceptor {
  return (method, call) => {
    let admitted: CallContext | undefined;
    const ended = () => {
      const context = admitted;
      admitted = undefined;
      context?.end();
    };
    const listener = new grpc.ServerListenerBuilder()
      .withOnReceiveMetadata((metadata, next) => {
        const peer = o.peers.peerOf(call);
        if (peer === undefined) {
          o.logger.warn({ method: method.path, peer: call.getPeer() }, 'call refused: no verified peer for this connection');
          call.sendStatus({ code: grpc.status.UNAUTHENTICATED, details: 'authentication failed' });
          return;
        }
        const decided = (d: AuthorizationDecision) => {
          if (d !== null && typeof d === 'object' && d.allowed === true) {
            admitted = d.context ?? decidedContext(peer, method.path);
            bindCallContext(metadata, admitted);
            next(metadata);
            return;
          }
          o.logger.debug({ ...peerLogFields(peer), method: method.path, reason: String(d?.reason) }, 'call denied');
          if (d?.refusal === 'resource_exhausted') call.sendStatus({ code: grpc.status.RESOURCE_EXHAUSTED, details: 'rate limit exceeded' });
          else call.sendStatus({ code: grpc.status.PERMISSION_DENIED, details: 'permission denied' });
        };
        const failed = (err: unknown) => {
          o.logger.error({ err, ...peerLogFields(peer), method: method.path }, 'authorization failed; call refused');
          call.sendStatus({ code: grpc.status.INTERNAL, details: 'internal error' });
        };
        let decision: AuthorizationDecision | Promise<AuthorizationDecision>;
        try {
          decision = o.authorize(peer, method.path);
        } catch (err) {
          failed(err);
          return;
        }
        if (decision instanceof Promise) decision.then(decided, failed);
        else decided(decision);
      })
      .withOnCancel(ended)
      .build();
    const responder = new grpc.ResponderBuilder()
      .withStart((next) => next(listener))
      .withSendStatus((status, next) => {
        ended();
        next(status);
      })
      .build();
    return new grpc.ServerInterceptingCall(call, responder);
  };
}
