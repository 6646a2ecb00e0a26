import { type CanActivate, type ExecutionContext, Inject, Injectable, Logger } from '@nestjs/common';
import type { Socket } from 'node:net';
import { Reflector } from '@nestjs/core';
import type { NextFunction, Request, Response } from 'express';
import type { RevocationCheck } from '../authz';
import { ParleyError } from '../common';
import type { SpiffeId } from '../spiffe';
import type { AdminAuditTrail, AdminDecisionStage } from './admin-audit';
import { sendProblem } from './admin-problem';
import type { AdminAdmission, AdminRefusal } from './admin-admission';
import { describeRoles, type AdminRole, type AdminRoles, type RoleDecision } from './domain/roles';
import { PERMISSION_KEY, type AdminPermission } from './permissions';
import type { AdminPeer, PeerRegistry } from './peer-registry';

/** Who may call the admin API and do what: the roles of `admin.admins` and `admin.roles` (domain/roles.ts). */
export class AdminPolicy {
  constructor(readonly roles: AdminRoles) {}

  decide(id: SpiffeId, permission: AdminPermission): RoleDecision {
    return this.roles.decide(id, permission);
  }
}

export type { AdminAdmission, AdminRefusal } from './admin-admission';

export interface AdminGatekeeperOptions {
  peers: PeerRegistry;
  policy: AdminPolicy;
  /** Revoked SPIFFE IDs and certificate fingerprints (the store the gRPC path uses). */
  revocations: RevocationCheck;
  /** Every refusal (metrics). */
  onRefused?(reason: AdminRefusal): void;
  /** Where the decisions on admin actions are noted for the audit trail. */
  audit?: AdminAuditTrail;
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
    if (peer === undefined) return this.refuse({ reason: 'no_peer', detail: 'no verified peer identity on the connection' });
    const revoked = this.o.revocations.revokedReason(peer);
    if (revoked !== undefined) return this.refuse({ reason: 'revoked', detail: revoked, peer });
    const decision = this.o.policy.decide(peer.id, permission);
    const lacks = `${peer.id.toString()} lacks ${permission} (holds ${describeRoles(decision.roles)})`;
    if (decision.roles.length === 0) return this.refuse({ reason: 'not_admin', detail: lacks, peer, roles: decision.roles });
    if (!decision.allowed || decision.grantedBy === undefined) return this.refuse({ reason: 'no_permission', detail: lacks, publicDetail: lacks, peer, roles: decision.roles });
    return { ok: true, peer, roles: decision.roles, grantedBy: decision.grantedBy };
  }

  /** `admit` for a request, noted for the audit trail (admin-audit.ts). */
  admitRequest(req: Request, stage: AdminDecisionStage, permission: AdminPermission): AdminAdmission {
    const decision = this.admit(req.socket, permission);
    this.o.audit?.note(req, stage, permission, decision);
    return decision;
  }

  /** Express middleware arranging the audit row of every admin action (none without an audit trail). */
  auditMiddleware() {
    const audit = this.o.audit;
    if (audit === undefined) return (_req: Request, _res: Response, next: NextFunction) => next();
    return audit.middleware((req) => this.peerOf(req.socket));
  }

  /** The roles and permissions of a verified peer (for GET /v1/identity). */
  describe(peer: AdminPeer): { roles: AdminRole[]; permissions: AdminPermission[] } {
    return { roles: this.o.policy.roles.rolesOf(peer.id), permissions: this.o.policy.roles.permissionsOf(peer.id) };
  }

  /** The verified peer of a request (for "who did it" in logs), without a decision. */
  peerOf(socket: Socket | undefined): AdminPeer | undefined {
    return this.o.peers.get(socket);
  }

  private refuse(refusal: Omit<Extract<AdminAdmission, { ok: false }>, 'ok'>): AdminAdmission {
    this.o.onRefused?.(refusal.reason);
    return { ok: false, ...refusal };
  }
}

/**
 * Express middleware in front of every admin path (including OpenAPI and docs, which are not
 * Nest routes) and before any body is read: a verified, unrevoked admin, or 403 problem+json
 * and the connection closed (the body is never parsed). Fails closed.
 */
export function adminGate(gatekeeper: AdminGatekeeper, logger = new Logger('admin')) {
  return (req: Request, res: Response, next: NextFunction) => {
    const decision = gatekeeper.admitRequest(req, 'gate', 'docs:read');
    if (decision.ok) return next();
    const peer = gatekeeper.peerOf(req.socket);
    logger.warn({ path: req.path, spiffeId: peer?.id.toString(), serial: peer?.serial, refusal: decision.reason, reason: decision.detail }, 'admin request refused');
    sendProblem(req, res, new ParleyError('permission_denied', decision.detail, { publicMessage: decision.publicDetail }), { close: true });
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
    const decision = this.gatekeeper.admitRequest(req, 'route', permission);
    if (!decision.ok) throw new ParleyError('permission_denied', decision.detail, { publicMessage: decision.publicDetail });
    return true;
  }
}
