/**
 * Grants: what `RequestRegistryCredentials` answers instead of a shared password. A grant is
 * a JWS (ES256) signed by this gateway: `iss` our SPIFFE ID, `sub` the caller's SPIFFE ID,
 * one `aud`, `iat`, `exp` (short: minutes), `jti`, the scope (exported namespaces and
 * actions) and `cnf` `x5t#S256`, the SHA-256 thumbprint of the caller's certificate
 * (RFC 8705): a copied token is useless on a connection with another certificate.
 *
 * Signing uses jose. Verification is synchronous (node:crypto on the same compact JWS,
 * ECDSA in its IEEE P1363 form as JWS has it), because it runs in the call authorizer,
 * which decides every call before any handler and without awaiting.
 */
import { createHash, randomUUID, verify as verifySignature, type KeyObject } from 'node:crypto';
import { CompactSign } from 'jose';
import { EXPORT_ACTIONS, type GrantScope, type ScopeEntry } from './export';

export const GRANT_ALG = 'ES256';
export const GRANT_TYPE = 'parley-grant+jwt';
/** Longest lifetime a grant may be given, and the shortest (config is clamped to this). */
export const MAX_GRANT_TTL_MS = 15 * 60_000;
export const MIN_GRANT_TTL_MS = 60_000;
/** Clock skew tolerated between replicas when checking `iat`/`exp`. */
const CLOCK_SKEW_S = 5;
const MAX_TOKEN_BYTES = 16 * 1024;

export interface GrantClaims {
  readonly iss: string;
  readonly sub: string;
  readonly aud: string;
  readonly iat: number;
  readonly exp: number;
  readonly jti: string;
  readonly scope: GrantScope;
  readonly cnf: { readonly 'x5t#S256': string };
}

export interface SigningKey {
  readonly kid: string;
  readonly privateKey: KeyObject;
}

export type GrantRefusal = 'malformed' | 'unknown_key' | 'bad_signature' | 'expired' | 'not_yet_valid' | 'wrong_issuer' | 'wrong_audience' | 'wrong_subject' | 'wrong_certificate';

/** Why a presented grant is refused (the reason goes to the audit; the caller sees a generic text). */
export class GrantError extends Error {
  constructor(
    readonly refusal: GrantRefusal,
    message: string,
  ) {
    super(message);
    this.name = 'GrantError';
  }
}

/** RFC 8705 `x5t#S256`: base64url of the SHA-256 of the certificate's DER. */
export function certificateThumbprint(der: Uint8Array): string {
  return createHash('sha256').update(der).digest('base64url');
}

/** The same thumbprint from Node's `fingerprint256` (the SHA-256 of the DER as colon-separated hex). */
export function thumbprintOfFingerprint(fingerprint256: string): string {
  const hex = fingerprint256.replace(/:/g, '');
  if (!/^[0-9A-Fa-f]{64}$/.test(hex)) throw new TypeError('thumbprintOfFingerprint: not a SHA-256 fingerprint');
  return Buffer.from(hex, 'hex').toString('base64url');
}

export interface GrantRequest {
  readonly issuer: string;
  readonly audience: string;
  readonly subject: string;
  /** `x5t#S256` of the caller's certificate (certificateThumbprint). */
  readonly certificateThumbprint: string;
  readonly scope: GrantScope;
  readonly ttlMs: number;
  readonly nowMs: number;
}

/** Signs a grant; returns the token and its claims. */
export async function signGrant(key: SigningKey, request: GrantRequest): Promise<{ token: string; claims: GrantClaims }> {
  if (request.scope.length === 0) throw new TypeError('signGrant: an empty scope grants nothing');
  const ttlMs = Math.min(MAX_GRANT_TTL_MS, Math.max(MIN_GRANT_TTL_MS, request.ttlMs));
  const iat = Math.floor(request.nowMs / 1000);
  const claims: GrantClaims = {
    iss: request.issuer,
    sub: request.subject,
    aud: request.audience,
    iat,
    exp: iat + Math.floor(ttlMs / 1000),
    jti: randomUUID(),
    scope: request.scope,
    cnf: { 'x5t#S256': request.certificateThumbprint },
  };
  const token = await new CompactSign(Buffer.from(JSON.stringify(claims))).setProtectedHeader({ alg: GRANT_ALG, kid: key.kid, typ: GRANT_TYPE }).sign(key.privateKey);
  return { token, claims };
}

export interface GrantExpectations {
  readonly issuer: string;
  readonly audience: string;
  /** The SPIFFE ID of the peer presenting the grant. */
  readonly peerId: string;
  /** `x5t#S256` of the peer's leaf certificate on this connection. */
  readonly peerCertificateThumbprint: string;
  readonly nowMs: number;
}

const B64URL = /^[A-Za-z0-9_-]*$/;

/** The parts of a compact JWS, with its protected header parsed. */
function splitCompact(token: string): { header: Record<string, unknown>; signingInput: string; payload: Buffer; signature: Buffer } {
  const parts = token.split('.');
  if (parts.length !== 3 || !parts.every((p) => B64URL.test(p)) || parts[0] === '' || parts[2] === '') throw new GrantError('malformed', 'grant: not a compact jws');
  let header: unknown;
  try {
    header = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8'));
  } catch {
    throw new GrantError('malformed', 'grant: protected header is not json');
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw new GrantError('malformed', 'grant: protected header is not an object');
  return { header: header as Record<string, unknown>, signingInput: `${parts[0]}.${parts[1]}`, payload: Buffer.from(parts[1], 'base64url'), signature: Buffer.from(parts[2], 'base64url') };
}

/**
 * Verifies a presented grant: signature by a key we hold, issuer, audience, time window,
 * subject = the peer, `cnf` = the peer's certificate. Scope checks are the caller's.
 * @throws GrantError with the refusal reason
 */
export function verifyGrant(token: string, keyFor: (kid: string) => KeyObject | undefined, expect: GrantExpectations): GrantClaims {
  if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_BYTES) throw new GrantError('malformed', 'grant: not a compact jws of a sane size');
  const { header, signingInput, payload, signature } = splitCompact(token);
  if (header.alg !== GRANT_ALG || header.typ !== GRANT_TYPE || header.crit !== undefined) throw new GrantError('malformed', 'grant: wrong algorithm or token type');
  if (typeof header.kid !== 'string' || header.kid.length === 0) throw new GrantError('malformed', 'grant: no key id in the protected header');
  const key = keyFor(header.kid);
  if (key === undefined) throw new GrantError('unknown_key', `grant: signed by key ${header.kid.slice(0, 64)}, which this gateway does not hold`);
  let valid: boolean;
  try {
    valid = verifySignature('sha256', Buffer.from(signingInput, 'ascii'), { key, dsaEncoding: 'ieee-p1363' }, signature);
  } catch {
    valid = false;
  }
  if (!valid) throw new GrantError('bad_signature', 'grant: signature does not verify');
  const claims = parseClaims(payload);
  checkClaims(claims, expect);
  return claims;
}

function checkClaims(claims: GrantClaims, expect: GrantExpectations): void {
  const now = Math.floor(expect.nowMs / 1000);
  if (claims.iss !== expect.issuer) throw new GrantError('wrong_issuer', 'grant: issued by another gateway');
  if (claims.aud !== expect.audience) throw new GrantError('wrong_audience', 'grant: meant for another audience');
  if (now >= claims.exp + CLOCK_SKEW_S) throw new GrantError('expired', `grant: expired at ${new Date(claims.exp * 1000).toISOString()}`);
  if (claims.iat > now + CLOCK_SKEW_S) throw new GrantError('not_yet_valid', 'grant: issued in the future');
  if (claims.exp - claims.iat > MAX_GRANT_TTL_MS / 1000) throw new GrantError('malformed', 'grant: lifetime longer than allowed');
  if (claims.sub !== expect.peerId) throw new GrantError('wrong_subject', `grant: issued to ${claims.sub.slice(0, 256)}, presented by ${expect.peerId}`);
  if (claims.cnf['x5t#S256'] !== expect.peerCertificateThumbprint) throw new GrantError('wrong_certificate', 'grant: bound to another certificate');
}

function parseClaims(payload: Uint8Array): GrantClaims {
  let c: Record<string, unknown>;
  try {
    c = JSON.parse(Buffer.from(payload).toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new GrantError('malformed', 'grant: payload is not json');
  }
  const str = (k: string) => typeof c[k] === 'string' && (c[k] as string).length > 0;
  const int = (k: string) => Number.isSafeInteger(c[k]);
  const cnf = c.cnf as Record<string, unknown> | undefined;
  if (typeof c !== 'object' || c === null || !str('iss') || !str('sub') || !str('aud') || !str('jti') || !int('iat') || !int('exp')) {
    throw new GrantError('malformed', 'grant: missing or mistyped claims');
  }
  if (typeof cnf !== 'object' || cnf === null || typeof cnf['x5t#S256'] !== 'string') throw new GrantError('malformed', 'grant: no certificate binding (cnf x5t#S256)');
  return { ...(c as unknown as GrantClaims), scope: parseScope(c.scope) };
}

function parseScope(value: unknown): GrantScope {
  if (!Array.isArray(value) || value.length === 0) throw new GrantError('malformed', 'grant: no scope');
  return value.map((e): ScopeEntry => {
    const entry = e as Record<string, unknown>;
    const strings = (v: unknown) => Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string');
    if (typeof entry !== 'object' || entry === null || typeof entry.exportId !== 'string' || !strings(entry.namespaces) || !strings(entry.actions)) {
      throw new GrantError('malformed', 'grant: malformed scope entry');
    }
    if (!(entry.actions as string[]).every((a) => (EXPORT_ACTIONS as readonly string[]).includes(a))) throw new GrantError('malformed', 'grant: unknown action in scope');
    const selector = entry.annotations;
    if (selector !== undefined && (typeof selector !== 'object' || selector === null || !Object.values(selector).every((v) => typeof v === 'string'))) {
      throw new GrantError('malformed', 'grant: malformed annotation selector');
    }
    return entry as unknown as ScopeEntry;
  });
}
