import { type CanActivate, type ExecutionContext, Inject, Injectable, Logger } from '@nestjs/common';
import { ADMIN_POLICY, PEER_REGISTRY } from '../tokens';
import { Reflector } from '@nestjs/core';
import type { NextFunction, Request, Response } from 'express';
import { PROBLEM_CONTENT_TYPE, toProblem } from '../common/error-mapping';
import { ParleyError } from '../common/errors';
import { authorizeOneOf, type Authorizer, type SpiffeId } from '../spiffe';
import { PERMISSION_KEY, type AdminPermission } from './permissions';
import type { PeerRegistry } from './peer-registry';

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

/**
 * Express middleware in front of every admin path (including OpenAPI and docs, which are not
 * Nest routes): a verified peer that is an admin, or 403 problem+json. Fails closed.
 */
export function adminGate(peers: PeerRegistry, policy: AdminPolicy, logger = new Logger('admin')) {
  return (req: Request, res: Response, next: NextFunction) => {
    const peer = peers.get(req.socket);
    if (peer && policy.allows(peer.id, 'docs:read')) return next();
    const reason = peer ? `${peer.id.toString()} is not an admin` : 'no verified peer identity on the connection';
    logger.warn({ path: req.path, reason }, 'admin request refused');
    const problem = toProblem(new ParleyError('permission_denied', reason), req.originalUrl);
    res.status(problem.status).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(problem));
  };
}

/** Route-level check: the handler must declare a permission and the peer must hold it. */
@Injectable()
export class PermissionGuard implements CanActivate {
  private readonly logger = new Logger('admin');
  constructor(
    private readonly reflector: Reflector,
    @Inject(PEER_REGISTRY) private readonly peers: PeerRegistry,
    @Inject(ADMIN_POLICY) private readonly policy: AdminPolicy,
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
    const peer = this.peers.get(req.socket);
    if (!peer || !this.policy.allows(peer.id, permission)) {
      throw new ParleyError('permission_denied', `${peer?.id.toString() ?? 'unknown peer'} lacks ${permission}`);
    }
    return true;
  }
}
