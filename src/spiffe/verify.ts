/**
 * Peer X509-SVID verification (CONFORMANCE §2).
 *
 * The leaf is checked first (§2.1–2.3, EKU §2.6, validity, critical extensions). Then only
 * the bundle of the leaf's *own* trust domain is used: every certificate in it is a trust
 * anchor (self-signed or not); the rest of the presented chain is a pool of untrusted
 * intermediates in any order. Candidate issuers are those whose subject name equals the
 * child's issuer name, likely ones (AKI/SKI) first, but every link is *proven* with
 * `X509Certificate.verify(issuerPublicKey)`; names and key identifiers are never trusted.
 * A path that reaches an anchor is then validated as a whole: validity window of every
 * certificate (anchors included), cA + keyCertSign on intermediates, pathLenConstraint,
 * name constraints, unsupported critical extensions. The first valid path wins; if none,
 * the error of the first signature-proven path is thrown, else `chain_unverified`.
 *
 * Validity is inclusive at both ends (RFC 5280): a certificate is valid at exactly notAfter.
 */
import { X509Certificate } from 'node:crypto';
import { SpiffeError } from './errors';
import { nameConstraintViolation } from './name-constraints';
import { SpiffeId, TrustDomain } from './spiffe-id';
import { checkLeaf, checkSigningCert } from './svid-rules';
import { CertInfo, certDetails, certInfo, OID } from './x509-parse';

/** Where the verifier finds the trust anchors of one trust domain. */
export interface X509BundleSource {
  getX509Authorities(td: TrustDomain): readonly X509Certificate[] | undefined;
}

export type VerifyRole = 'client' | 'server';

export interface VerifyOptions {
  /** The role of the *peer*: a server verifying a client passes 'client'. */
  readonly role: VerifyRole;
  /** Verification time; defaults to now. */
  readonly now?: Date;
}

export interface VerifiedX509Svid {
  readonly id: SpiffeId;
  /** The verified path: leaf, intermediates, trust anchor. */
  readonly chain: readonly X509Certificate[];
}

/** Longest presented chain we look at. */
export const MAX_PRESENTED_CERTIFICATES = 16;
/** Most intermediates on a path between leaf and anchor. */
export const MAX_PATH_INTERMEDIATES = 8;
/** Most signature verifications spent on one call. */
export const MAX_SIGNATURE_CHECKS = 64;

interface Search {
  readonly now: number;
  readonly anchors: readonly CertInfo[];
  readonly pool: readonly CertInfo[];
  readonly leafKey: string;
  budget: number;
  exhausted: boolean;
  firstError: SpiffeError | undefined;
}

/**
 * Verifies a peer's chain (leaf first) against the bundle of the leaf's trust domain.
 * @throws SpiffeError only (TypeError for invalid options)
 */
export function verifyX509Svid(
  chain: ReadonlyArray<Uint8Array | X509Certificate>,
  bundles: X509BundleSource,
  opts: VerifyOptions,
): VerifiedX509Svid {
  const now = checkOptions(bundles, opts);
  if (!Array.isArray(chain) || chain.length === 0) {
    throw new SpiffeError('no_certificates', 'cannot verify x509-svid: no certificates presented');
  }
  if (chain.length > MAX_PRESENTED_CERTIFICATES) {
    throw new SpiffeError(
      'chain_unverified',
      `cannot verify x509-svid: more than ${MAX_PRESENTED_CERTIFICATES} certificates presented`,
    );
  }
  const presented = chain.map((c, i) => certInfo(c, i));
  const leaf = presented[0];
  const id = checkLeaf(leaf);
  const idDetails = { spiffeId: id.toString(), trustDomain: id.trustDomain.name };
  checkExtKeyUsage(leaf, opts.role, idDetails);
  const leafError = checkValidity(leaf, now, 0) ?? checkCritical(leaf, 0);
  if (leafError !== undefined) throw leafError;

  const authorities = bundles.getX509Authorities(id.trustDomain);
  if (authorities === undefined) {
    throw new SpiffeError(
      'unknown_trust_domain',
      `cannot verify x509-svid: no bundle for trust domain "${id.trustDomain.name}"`,
      idDetails,
    );
  }
  const anchors = authorities.map((c, i) => certInfo(c, i));
  const anchorKeys = new Set(anchors.map((a) => a.derKey));
  const pool: CertInfo[] = [];
  const poolKeys = new Set<string>([leaf.derKey]);
  for (const info of presented.slice(1)) {
    if (anchorKeys.has(info.derKey) || poolKeys.has(info.derKey)) continue;
    poolKeys.add(info.derKey);
    pool.push(info);
  }
  const search: Search = {
    now,
    anchors,
    pool,
    leafKey: leaf.derKey,
    budget: MAX_SIGNATURE_CHECKS,
    exhausted: false,
    firstError: undefined,
  };
  const path = extend(search, [leaf]);
  if (path !== undefined) return Object.freeze({ id, chain: Object.freeze(path.map((p) => p.cert)) });
  if (search.firstError !== undefined) throw search.firstError;
  const why = search.exhausted
    ? 'search limit reached before a path to a trust anchor was proven'
    : `no path to a trust anchor of "${id.trustDomain.name}" proven by signatures`;
  throw new SpiffeError('chain_unverified', `cannot verify x509-svid: ${why}`, idDetails);
}

/** Depth-first search for a signature-proven path from `path`'s last certificate to an anchor. */
function extend(s: Search, path: CertInfo[]): CertInfo[] | undefined {
  const child = path[path.length - 1];
  for (const anchor of candidates(s.anchors, child)) {
    if (anchor.derKey === s.leafKey || !signedBy(s, child, anchor)) continue;
    const full = [...path, anchor];
    const err = validatePath(full, s.now);
    if (err === undefined) return full;
    s.firstError ??= err;
  }
  if (path.length - 1 >= MAX_PATH_INTERMEDIATES) return undefined;
  for (const next of candidates(s.pool, child)) {
    if (path.includes(next) || !signedBy(s, child, next)) continue;
    const found = extend(s, [...path, next]);
    if (found !== undefined) return found;
  }
  return undefined;
}

/**
 * Certificates named as `child`'s issuer; when there are several, those OpenSSL's
 * `checkIssued` (name + AKI/SKI) likes come first. Only an ordering: proof is the signature.
 */
function candidates(certs: readonly CertInfo[], child: CertInfo): CertInfo[] {
  const named = certs.filter((c) => c.subject === child.issuer);
  if (named.length < 2) return named;
  const likely = named.filter((c) => child.cert.checkIssued(c.cert));
  return likely.length === 0 || likely.length === named.length ? named : [...likely, ...named.filter((c) => !likely.includes(c))];
}

/**
 * Signature links already proven, keyed by the exact DER of child and issuer. A signature over
 * fixed bytes under a fixed key always verifies the same way, so a hit is as good as a check;
 * it saves the repeated intermediate -> anchor proof on every handshake. Bounded, FIFO eviction;
 * failures are never cached.
 */
const provenLinks = new Set<string>();
const MAX_PROVEN_LINKS = 4096;

function signedBy(s: Search, child: CertInfo, issuer: CertInfo): boolean {
  if (s.budget <= 0) {
    s.exhausted = true;
    return false;
  }
  s.budget--;
  const key = `${child.derKey}\u0000${issuer.derKey}`;
  if (provenLinks.has(key)) return true;
  let ok: boolean;
  try {
    ok = child.cert.verify(issuer.publicKey);
  } catch {
    return false;
  }
  if (ok) {
    if (provenLinks.size >= MAX_PROVEN_LINKS) provenLinks.delete(provenLinks.values().next().value as string);
    provenLinks.add(key);
  }
  return ok;
}

/** Forgets proven signature links (benchmarks measure the cold path with it). */
export function clearProvenLinks(): void {
  provenLinks.clear();
}

/** Checks a signature-proven path [leaf, intermediates…, anchor]; the leaf was checked already. */
function validatePath(path: readonly CertInfo[], now: number): SpiffeError | undefined {
  const last = path.length - 1;
  let nonSelfIssued = 0;
  for (let k = 1; k <= last; k++) {
    const cert = path[k];
    const err = checkValidity(cert, now, k) ?? checkCritical(cert, k);
    if (err !== undefined) return err;
    if (k < last) {
      try {
        checkSigningCert(cert, k);
      } catch (e) {
        return e as SpiffeError;
      }
    }
    // pathLenConstraint counts the non-self-issued intermediates below this certificate.
    if (cert.pathLen !== undefined && nonSelfIssued > cert.pathLen) {
      return new SpiffeError(
        'path_length_exceeded',
        `cannot verify x509-svid: ${nonSelfIssued} intermediates below a certificate with path length ${cert.pathLen}`,
        certDetails(cert, k),
      );
    }
    if (cert.nameConstraints !== undefined) {
      const violation = nameConstraintViolation(cert.nameConstraints, path.slice(0, k));
      if (violation !== undefined) {
        return new SpiffeError('name_constraints_violated', `cannot verify x509-svid: ${violation}`, certDetails(cert, k));
      }
    }
    if (k < last && !cert.selfIssued) nonSelfIssued++;
  }
  return undefined;
}

function checkValidity(cert: CertInfo, now: number, index: number): SpiffeError | undefined {
  if (now < cert.notBefore) {
    return new SpiffeError(
      'certificate_not_yet_valid',
      `cannot verify x509-svid: certificate ${index} is not valid before ${new Date(cert.notBefore).toISOString()}`,
      certDetails(cert, index),
    );
  }
  if (now > cert.notAfter) {
    return new SpiffeError(
      'certificate_expired',
      `cannot verify x509-svid: certificate ${index} expired at ${new Date(cert.notAfter).toISOString()}`,
      certDetails(cert, index),
    );
  }
  return undefined;
}

function checkCritical(cert: CertInfo, index: number): SpiffeError | undefined {
  if (cert.unsupportedCritical === undefined) return undefined;
  return new SpiffeError(
    'unsupported_critical_extension',
    `cannot verify x509-svid: certificate ${index} has unsupported critical extension ${cert.unsupportedCritical}`,
    { ...certDetails(cert, index), oid: cert.unsupportedCritical },
  );
}

/** DECIDED: no EKU is fine; otherwise it must contain the role's purpose (or anyExtendedKeyUsage). */
function checkExtKeyUsage(leaf: CertInfo, role: VerifyRole, details: { spiffeId: string; trustDomain: string }): void {
  const eku = leaf.extKeyUsage;
  if (eku === undefined) return;
  const purpose = role === 'client' ? OID.clientAuth : OID.serverAuth;
  if (eku.includes(purpose) || eku.includes(OID.anyExtendedKeyUsage)) return;
  throw new SpiffeError(
    'eku_missing_purpose',
    `cannot verify x509-svid: extended key usage does not allow ${role === 'client' ? 'clientAuth' : 'serverAuth'}`,
    { ...details, ...certDetails(leaf, 0) },
  );
}

function checkOptions(bundles: X509BundleSource, opts: VerifyOptions): number {
  if (bundles === null || typeof bundles !== 'object' || typeof bundles.getX509Authorities !== 'function') {
    throw new TypeError('verifyX509Svid: bundles must implement getX509Authorities(td)');
  }
  if (opts === null || typeof opts !== 'object' || (opts.role !== 'client' && opts.role !== 'server')) {
    throw new TypeError("verifyX509Svid: opts.role must be 'client' or 'server'");
  }
  const now = opts.now === undefined ? Date.now() : opts.now instanceof Date ? opts.now.getTime() : NaN;
  if (Number.isNaN(now)) throw new TypeError('verifyX509Svid: opts.now must be a valid Date');
  return now;
}
