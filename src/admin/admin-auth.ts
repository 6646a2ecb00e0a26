import { type CanActivate, type ExecutionContext, Inject, Injectable, Logger } from '@nestjs/common';
import type { Socket } from 'node:net';
import { Reflector } from '@nestjs/core';
import type { NextFunction, Request, Response } from 'express';
import type { RevocationCheck } from '../authz';
import { ParleyError } from '../common';
import { authorizeOneOf, type Authorizer, type SpiffeId } from '../spiffe';
import { sendProblem } from './admin-problem';
import { PERMISSION_KEY, type AdminPermission } from './permissions';
import type { AdminPeer, PeerRegistry } from './peer-registry';

/** Who may call the admin API: exact SPIFFE IDs from `admin.admins`. */
export class AdminPolicy {
  private readonly isAdmin: Authorizer;
  constructor(readonly admins: readonly SpiffeId[]) {
    this.isAdmin = authorizeOneOf(...admins);
  }

  /** Admins hold every permission. */
  allows(id: SpiffeId, _permission: AdminPermission): boolean {
    return this.isAdmin(id);
  }
}

/** Why an admin request was refused (label of parley_admin_requests_refused_total). */
export type AdminRefusal = 'no_peer' | 'revoked' | 'not_admin' | 'no_permission' | 'body_too_large' | 'json_too_deep' | 'json_invalid' | 'text_invalid';

export type AdminAdmission = { ok: true; peer: AdminPeer } | { ok: false; reason: AdminRefusal; detail: string };

export interface AdminGatekeeperOptions {
  peers: PeerRegistry;
  policy: AdminPolicy;
  /** Revoked SPIFFE IDs and certificate fingerprints (the store the gRPC path uses). */
  revocations: RevocationCheck;
  /** Every refusal (metrics). */
  onRefused?(reason: AdminRefusal): void;
}

/**
 * The admin decision of one request, in this order: a verified peer on the connection, not
 * revoked (SPIFFE ID and certificate fingerprint), an admin holding the permission. Used by
 * the gate in front of everything and again by the route guard. Fails closed.
 */
export class AdminGatekeeper {
  constructor(private readonly o: AdminGatekeeperOptions) {}

  admit(socket: Socket | undefined, permission: AdminPermission): AdminAdmission {
    const peer = this.o.peers.get(socket);
    if (peer === undefined) return this.refuse('no_peer', 'no verified peer identity on the connection');
    const revoked = this.o.revocations.revokedReason(peer);
    if (revoked !== undefined) return this.refuse('revoked', revoked);
    if (!this.o.policy.allows(peer.id, permission)) return this.refuse(permission === 'docs:read' ? 'not_admin' : 'no_permission', `${peer.id.toString()} lacks ${permission}`);
    return { ok: true, peer };
  }

  /** The verified peer of a request (for "who did it" in logs), without a decision. */
  peerOf(socket: Socket | undefined): AdminPeer | undefined {
    return this.o.peers.get(socket);
  }

  private refuse(reason: AdminRefusal, detail: string): AdminAdmission {
    this.o.onRefused?.(reason);
    return { ok: false, reason, detail };
  }
}

/**
 * Express middleware in front of every admin path (including OpenAPI and docs, which are not
 * Nest routes) and before any body is read: a verified, unrevoked admin, or 403 problem+json
 * and the connection closed (the body is never parsed). Fails closed.
 */
export function adminGate(gatekeeper: AdminGatekeeper, logger = new Logger('admin')) {
  return (req: Request, res: Response, next: NextFunction) => {
    const decision = gatekeeper.admit(req.socket, 'docs:read');
    if (decision.ok) return next();
    const peer = gatekeeper.peerOf(req.socket);
    logger.warn({ path: req.path, spiffeId: peer?.id.toString(), serial: peer?.serial, refusal: decision.reason, reason: decision.detail }, 'admin request refused');
    sendProblem(req, res, new ParleyError('permission_denied', decision.detail), { close: true });
  };
}

/** Route-level check: the handler must declare a permission and the peer must hold it. */
@Injectable()
export class PermissionGuard implements CanActivate {
  private readonly logger = new Logger('admin');
  constructor(
    private readonly reflector: Reflector,
    @Inject(AdminGatekeeper) private readonly gatekeeper: AdminGatekeeper,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    // gRPC calls are authorized by the grpc-js interceptor before any handler runs.
    if (context.getType() !== 'http') return true;
    const permission = this.reflector.getAllAndOverride<AdminPermission | undefined>(PERMISSION_KEY, [context.getHandler(), context.getClass()]);
    const req = context.switchToHttp().getRequest<Request>();
    if (!permission) {
      this.logger.error({ path: req.path }, 'admin route without a permission declaration refused');
      throw new ParleyError('permission_denied', `route ${req.path} declares no permission`);
    }
    const decision = this.gatekeeper.admit(req.socket, permission);
    if (!decision.ok) throw new ParleyError('permission_denied', decision.detail);
    return true;
  }
}
