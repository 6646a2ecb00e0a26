import * as grpc from '@grpc/grpc-js';
import type { TrustDomain } from '../spiffe';
import type { PeerDirectory } from '../tls/peer-directory';
import { peerLogFields, type PeerIdentity } from '../tls/peer-identity';
import type { TransportLogger } from '../tls/tls-logger';

/**
 * Metadata key by which the interceptor hands an authorization token to the handler (for
 * decisions finished by the handler). Whatever the client sent under this key is removed.
 */
export const AUTHZ_CALL_METADATA_KEY = 'parley-authz-call';

export interface AuthorizationDecision {
  readonly allowed: boolean;
  /** Why: goes to the log and the audit, never to the caller. */
  readonly reason: string;
  /** The status of a refusal (default PERMISSION_DENIED). */
  readonly refusal?: 'permission_denied' | 'resource_exhausted';
  /** Entries added to the request metadata the handler sees (allowed calls). */
  readonly metadata?: Readonly<Record<string, string>>;
  /** Called once when an allowed call ends (status sent, or cancelled by the client). */
  readonly onCallEnd?: () => void;
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
 * metadata is passed on. Callers get generic messages; the reason is logged.
 */
export function identityInterceptor(o: IdentityInterceptorOptions): grpc.ServerInterceptor {
  return (method, call) => {
    let onEnd: (() => void) | undefined;
    const ended = () => {
      const f = onEnd;
      onEnd = undefined;
      f?.();
    };
    const listener = new grpc.ServerListenerBuilder()
      .withOnReceiveMetadata((metadata, next) => {
        metadata.remove(AUTHZ_CALL_METADATA_KEY);
        const peer = o.peers.peerOf(call);
        if (peer === undefined) {
          o.logger.warn({ method: method.path, peer: call.getPeer() }, 'call refused: no verified peer for this connection');
          call.sendStatus({ code: grpc.status.UNAUTHENTICATED, details: 'authentication failed' });
          return;
        }
        const decided = (d: AuthorizationDecision) => {
          if (d !== null && typeof d === 'object' && d.allowed === true) {
            for (const [k, v] of Object.entries(d.metadata ?? {})) metadata.set(k, v);
            onEnd = d.onCallEnd;
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
