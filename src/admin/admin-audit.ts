/**
 * The audit trail of admin actions: every admin request that is not a read (anything but GET
 * and HEAD), allowed or refused, becomes one row of `authz_audit` through the authorization
 * context's audit writer, written when the answer is sent (or the connection goes): who (the
 * verified SPIFFE ID, or none), from where, `<HTTP method> <path>` as the method, the decision,
 * the granting role as the rule (`admin-role:operator`) and why, with the roles the caller
 * holds and the status answered. Only a request the route guard admitted is `allow`; one
 * refused by the gate, by a body limit or for a missing route is `deny` (fail closed).
 */
import type { NextFunction, Request, Response } from 'express';
import type { AuditWriter } from '../authz';
import { describeRoles } from './domain/roles';
import type { AdminAdmission } from './admin-admission';
import type { AdminPeer } from './peer-registry';
import type { AdminPermission } from './permissions';

/** Longest path kept in an audit row (the rest is cut, marked with `…`). */
const MAX_AUDITED_PATH = 1024;
/** Requests not audited: reads. */
const READ_METHODS = new Set(['GET', 'HEAD']);

export type AdminAuditSink = Pick<AuditWriter, 'record'>;

/** The gate in front of everything, or the route guard (its permission). */
export type AdminDecisionStage = 'gate' | 'route';

interface Noted {
  readonly stage: AdminDecisionStage;
  readonly permission: AdminPermission;
  readonly admission: AdminAdmission;
}

export class AdminAuditTrail {
  private readonly noted = new WeakMap<Request, Noted>();

  constructor(private readonly sink: AdminAuditSink) {}

  /** The gate's and then the route guard's decision on a request; the last one is audited. */
  note(req: Request, stage: AdminDecisionStage, permission: AdminPermission, admission: AdminAdmission): void {
    this.noted.set(req, { stage, permission, admission });
  }

  /** Express middleware, first of all: arranges the row of every non-read request. */
  middleware(peerOf: (req: Request) => AdminPeer | undefined) {
    return (req: Request, res: Response, next: NextFunction) => {
      if (!READ_METHODS.has(req.method)) {
        const at = new Date();
        const action = `${req.method} ${auditedPath(req.path)}`;
        res.once('close', () => this.record(req, res, at, action, peerOf(req)));
      }
      next();
    };
  }

  private record(req: Request, res: Response, at: Date, action: string, peer: AdminPeer | undefined): void {
    const noted = this.noted.get(req);
    const answered = res.writableFinished ? `answered ${res.statusCode}` : 'the connection closed before the answer';
    const admission = noted?.admission;
    const allowed = admission?.ok === true && noted?.stage === 'route';
    let reason: string;
    if (admission === undefined) reason = `refused before any decision; ${answered}`;
    else if (admission.ok && allowed) reason = `${noted!.permission} granted by role ${admission.grantedBy} (holds ${describeRoles(admission.roles)}); ${answered}`;
    else if (admission.ok) reason = `refused before the route's permission was checked (holds ${describeRoles(admission.roles)}); ${answered}`;
    else reason = `${admission.reason}: ${admission.detail}; ${answered}`;
    this.sink.record({
      at,
      spiffeId: peer?.spiffeId ?? '',
      trustDomain: peer?.trustDomain.name ?? '',
      sourceAddress: req.socket?.remoteAddress ?? '',
      method: action,
      decision: allowed ? 'allow' : 'deny',
      rule: allowed && admission?.ok ? `admin-role:${admission.grantedBy}` : undefined,
      reason,
    });
  }
}

function auditedPath(path: string): string {
  return path.length > MAX_AUDITED_PATH ? `${path.slice(0, MAX_AUDITED_PATH)}…` : path;
}
