import type { GrantAction, GrantVerifier, PresentedGrant } from '../authz';
import { ParleyError } from '../common';
import type { SpiffeId } from '../spiffe';
import { GrantError, signGrant, thumbprintOfFingerprint, verifyGrant, type GrantClaims } from './domain/grant';
import { scopeAllows, type GrantScope } from './domain/export';
import type { ExportStore } from './export-store';
import type { GrantKeys } from './grant-keys';

/** The caller of a grant-related call: its verified SPIFFE ID and the SHA-256 fingerprint of its connection's leaf certificate. */
export interface GrantPeer {
  readonly id: SpiffeId;
  readonly fingerprint256: string;
}

export interface GrantServiceOptions {
  exports: ExportStore;
  keys: GrantKeys;
  /** Our gateway's SPIFFE ID: issuer and audience of every grant. */
  gatewayId: SpiffeId;
  /** Lifetime of a grant (clamped to 60 s … 15 min). */
  ttlMs: number;
  events?: GrantEvents;
}

/**
 * Grants issued and refused by RequestRegistryCredentials (metrics; the audit gets the reason
 * through the thrown error's details). Presented grants are counted where the call authorizer
 * gets its GrantVerifier (the wiring).
 */
export interface GrantEvents {
  issued?(peer: GrantPeer, claims: GrantClaims): void;
  refused?(peer: GrantPeer, reason: string): void;
}

export interface IssuedGrant {
  readonly token: string;
  readonly claims: GrantClaims;
}

/**
 * RequestRegistryCredentials and the check of a presented grant. A grant is issued only for
 * what is exported to the caller; it names the caller and is bound to the certificate of the
 * connection it was asked on. Revoking the caller's ID or certificate voids its grants at
 * once: every call is checked against the revocations before its grant is looked at.
 */
export class GrantService {
  constructor(private readonly o: GrantServiceOptions) {}

  /** @throws ParleyError permission_denied (details.reason nothing_exported) when nothing is exported to the caller */
  async issue(peer: GrantPeer, nowMs = Date.now()): Promise<IssuedGrant> {
    const scope = this.o.exports.scopeFor(peer.id);
    if (scope.length === 0) {
      this.o.events?.refused?.(peer, 'nothing_exported');
      throw new ParleyError('permission_denied', `request registry credentials: nothing is exported to ${peer.id.toString()}`, { details: { reason: 'nothing_exported' } });
    }
    const issuer = this.o.gatewayId.toString();
    const issued = await signGrant(this.o.keys.signer(nowMs), { issuer, audience: issuer, subject: peer.id.toString(), certificateThumbprint: thumbprintOfFingerprint(peer.fingerprint256), scope, ttlMs: this.o.ttlMs, nowMs });
    this.o.events?.issued?.(peer, issued.claims);
    return issued;
  }

  /**
   * The scope of a presented grant, when it is valid for this peer on this connection.
   * @throws ParleyError unauthenticated with details.reason = the refusal (expired, wrong_certificate, …)
   */
  verify(token: string, peer: GrantPeer, nowMs = Date.now()): GrantScope {
    return this.check(token, peer, nowMs).scope;
  }

  /** The claims of a presented grant valid for this peer on this connection (same refusals as `verify`). */
  check(token: string, peer: GrantPeer, nowMs = Date.now()): GrantClaims {
    const issuer = this.o.gatewayId.toString();
    try {
      const claims = verifyGrant(token, this.o.keys.keyFor, { issuer, audience: issuer, peerId: peer.id.toString(), peerCertificateThumbprint: thumbprintOfFingerprint(peer.fingerprint256), nowMs });
      return claims;
    } catch (err) {
      if (!(err instanceof GrantError)) throw err;
      throw new ParleyError('unauthenticated', err.message, { details: { reason: `grant_${err.refusal}` }, publicMessage: `grant refused: ${err.refusal.replace(/_/g, ' ')}` });
    }
  }
}

/**
 * The call authorizer's GrantVerifier: a grant's namespaces (and annotation selectors) as the
 * authorizer asks for them, record by record. An export entry with an annotation selector
 * covers only records carrying those annotations; asked without a record's annotations, it
 * covers nothing (fail closed).
 */
export function grantVerifierOf(grants: GrantService): GrantVerifier {
  return {
    verify(token, peer, nowMs): PresentedGrant {
      const claims = grants.check(token, peer, nowMs);
      return { id: claims.jti, allows: (action: GrantAction, namespace: string, annotations?: Readonly<Record<string, string>>) => scopeAllows(claims.scope, action, namespace, annotations) };
    },
  };
}
