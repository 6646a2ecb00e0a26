/**
 * A federation relationship (CONFORMANCE §4): which partner trust domain we poll, how
 * (profile), where (endpoint URLs, tried in order) and which authorities we never trust.
 * `validateRelationship` turns untrusted input (a REST body, a config entry) into a
 * normalized value or a list of field errors; it never throws.
 */
import { parsePemCertificates, SpiffeBundle, SpiffeId, TrustDomain, X509Bundle } from '../../spiffe';
import { authorityIds, fingerprintOf, normalizeAuthorityRef } from './authority-ids';

export type FederationProfile = 'https_spiffe' | 'https_web' | 'static';

export const FEDERATION_PROFILES: readonly FederationProfile[] = Object.freeze(['https_spiffe', 'https_web', 'static']);

export interface FederationRelationship {
  /** Partner trust domain name. */
  readonly trustDomain: string;
  readonly profile: FederationProfile;
  /** https_spiffe/https_web: 1..8 URLs, tried in order (failover); static: []. */
  readonly endpointUrls: readonly string[];
  /** https_spiffe only (required there). */
  readonly endpointSpiffeId?: string;
  /**
   * https_spiffe: SPIFFE bundle JSON or PEM for the endpoint ID's trust domain (required when
   * that is the partner's own). static: the partner's bundle itself (optional).
   */
  readonly bootstrapBundle?: string;
  /** https_web only: CA roots (PEM); absent = Node's default web PKI roots. */
  readonly caRootsPem?: string;
  /** Normalized SHA-256 fingerprints (64 lowercase hex) or subject key ids (`ski:` + lowercase hex). */
  readonly deniedAuthorities?: readonly string[];
}

export interface FieldError {
  readonly field: string;
  readonly message: string;
}

export const RELATIONSHIP_LIMITS = Object.freeze({
  maxEndpointUrls: 8,
  maxUrlLength: 2048,
  /** bootstrapBundle and caRootsPem. */
  maxDocumentBytes: 1024 * 1024,
  maxDeniedAuthorities: 256,
});

const KNOWN_FIELDS = new Set(['trustDomain', 'profile', 'endpointUrls', 'endpointSpiffeId', 'bootstrapBundle', 'caRootsPem', 'deniedAuthorities']);

/** Validates and normalizes untrusted input (REST body or config). Never throws. */
export function validateRelationship(input: unknown, ownTrustDomain: string): { value?: FederationRelationship; errors: FieldError[] } {
  try {
    return validate(input, ownTrustDomain);
  } catch {
    // Hostile input (throwing getters, proxies): report, never crash.
    return { errors: [{ field: '', message: 'cannot read the relationship' }] };
  }
}

function validate(input: unknown, ownTrustDomain: string): { value?: FederationRelationship; errors: FieldError[] } {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    return { errors: [{ field: '', message: 'must be an object' }] };
  }
  const body = input as Record<string, unknown>;
  const errors: FieldError[] = [];
  const fail = (field: string, message: string): undefined => {
    errors.push({ field, message });
    return undefined;
  };
  for (const key of Object.keys(body)) if (!KNOWN_FIELDS.has(key)) fail(key, 'unknown field');

  const trustDomain = readTrustDomain(body.trustDomain, ownTrustDomain, fail);
  const profile = readProfile(body.profile, fail);
  const present = (name: string): boolean => Object.hasOwn(body, name) && body[name] !== undefined && body[name] !== null;

  let endpointUrls: string[] = [];
  if (profile === 'static') {
    if (present('endpointUrls') && !(Array.isArray(body.endpointUrls) && body.endpointUrls.length === 0)) {
      fail('endpointUrls', 'must be empty for profile static');
    }
  } else if (profile !== undefined) {
    endpointUrls = readUrls(body.endpointUrls, fail) ?? [];
  }

  let endpointSpiffeId: string | undefined;
  let bootstrapBundle: string | undefined;
  let caRootsPem: string | undefined;
  if (profile === 'https_spiffe') {
    const endpointId = readEndpointId(body.endpointSpiffeId, fail);
    endpointSpiffeId = endpointId?.toString();
    if (present('caRootsPem')) fail('caRootsPem', 'only allowed for profile https_web');
    if (endpointId !== undefined) {
      const ownDomain = trustDomain !== undefined && endpointId.trustDomain.name === trustDomain.name;
      if (present('bootstrapBundle')) {
        bootstrapBundle = readBootstrap(body.bootstrapBundle, endpointId.trustDomain, fail);
      } else if (ownDomain) {
        fail('bootstrapBundle', `required: the endpoint is in ${endpointId.trustDomain.name}, whose bundle is not held before the first fetch`);
      }
    }
  } else if (profile === 'https_web') {
    if (present('endpointSpiffeId')) fail('endpointSpiffeId', 'only allowed for profile https_spiffe');
    if (present('bootstrapBundle')) fail('bootstrapBundle', 'only allowed for profiles https_spiffe and static');
    if (present('caRootsPem')) caRootsPem = readCaRoots(body.caRootsPem, fail);
  } else if (profile === 'static') {
    if (present('endpointSpiffeId')) fail('endpointSpiffeId', 'only allowed for profile https_spiffe');
    if (present('caRootsPem')) fail('caRootsPem', 'only allowed for profile https_web');
    // The partner's bundle itself, set by hand; `{"keys":[]}` (every authority revoked) is valid.
    if (present('bootstrapBundle') && trustDomain !== undefined) bootstrapBundle = readBootstrap(body.bootstrapBundle, trustDomain, fail, true);
  }

  const denied = present('deniedAuthorities') ? readDenied(body.deniedAuthorities, fail) : undefined;

  if (errors.length > 0 || trustDomain === undefined || profile === undefined) return { errors };
  const value: FederationRelationship = Object.freeze({
    trustDomain: trustDomain.name,
    profile,
    endpointUrls: Object.freeze(endpointUrls),
    ...(endpointSpiffeId === undefined ? {} : { endpointSpiffeId }),
    ...(bootstrapBundle === undefined ? {} : { bootstrapBundle }),
    ...(caRootsPem === undefined ? {} : { caRootsPem }),
    ...(denied === undefined || denied.length === 0 ? {} : { deniedAuthorities: Object.freeze(denied) }),
  });
  return { value, errors };
}

type Fail = (field: string, message: string) => undefined;

function readTrustDomain(raw: unknown, own: string, fail: Fail): TrustDomain | undefined {
  if (typeof raw !== 'string') return fail('trustDomain', 'required: a trust domain name');
  const name = raw.startsWith('spiffe://') ? raw.slice('spiffe://'.length) : raw;
  let td: TrustDomain;
  try {
    td = TrustDomain.parse(name);
  } catch (err) {
    return fail('trustDomain', (err as Error).message);
  }
  if (td.name !== name) return fail('trustDomain', 'must be a trust domain name without a path');
  let ownName = own;
  try {
    ownName = TrustDomain.parse(own).name;
  } catch {
    // compare with the raw value
  }
  if (td.name === ownName) return fail('trustDomain', 'must not be our own trust domain');
  return td;
}

function readProfile(raw: unknown, fail: Fail): FederationProfile | undefined {
  if (typeof raw === 'string' && (FEDERATION_PROFILES as readonly string[]).includes(raw)) return raw as FederationProfile;
  return fail('profile', `required: one of ${FEDERATION_PROFILES.join(', ')}`);
}

function readUrls(raw: unknown, fail: Fail): string[] | undefined {
  const max = RELATIONSHIP_LIMITS.maxEndpointUrls;
  if (!Array.isArray(raw) || raw.length === 0 || raw.length > max) {
    return fail('endpointUrls', `required: 1 to ${max} https URLs`);
  }
  const out: string[] = [];
  raw.forEach((item: unknown, i: number) => {
    const field = `endpointUrls[${i}]`;
    const read = readHttpsUrl(item);
    if ('error' in read) return fail(field, read.error);
    if (out.includes(read.url)) return fail(field, 'duplicate URL');
    out.push(read.url);
    return undefined;
  });
  return out;
}

/** A normalized https URL (no user information, no fragment), or why the input is not one. */
export function readHttpsUrl(raw: unknown): { url: string } | { error: string } {
  if (typeof raw !== 'string' || raw.length === 0) return { error: 'must be an https URL' };
  if (raw.length > RELATIONSHIP_LIMITS.maxUrlLength) return { error: `must be at most ${RELATIONSHIP_LIMITS.maxUrlLength} characters` };
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { error: 'must be an https URL' };
  }
  if (url.protocol !== 'https:') return { error: 'must use https' };
  if (url.username !== '' || url.password !== '') return { error: 'must not contain user information' };
  if (url.hash !== '' || raw.includes('#')) return { error: 'must not contain a fragment' };
  if (url.hostname === '') return { error: 'must name a host' };
  return { url: url.href };
}

function readEndpointId(raw: unknown, fail: Fail): SpiffeId | undefined {
  if (typeof raw !== 'string') return fail('endpointSpiffeId', 'required for profile https_spiffe: the SPIFFE ID of the bundle endpoint server');
  const id = SpiffeId.tryParse(raw);
  if (id === undefined) return fail('endpointSpiffeId', 'must be a valid SPIFFE ID');
  if (id.path === '') return fail('endpointSpiffeId', 'must be a SPIFFE ID with a path');
  return id;
}

function readBootstrap(raw: unknown, td: TrustDomain, fail: Fail, allowEmpty = false): string | undefined {
  const field = 'bootstrapBundle';
  if (typeof raw !== 'string' || raw.trim().length === 0) return fail(field, 'must be a SPIFFE bundle (JSON) or PEM certificates');
  if (Buffer.byteLength(raw) > RELATIONSHIP_LIMITS.maxDocumentBytes) return fail(field, 'is too large');
  try {
    const bundle = parseBootstrapBundle(raw, td);
    if (!allowEmpty && bundle.x509Authorities.length === 0) return fail(field, 'contains no x509 authorities');
  } catch (err) {
    return fail(field, (err as Error).message);
  }
  return raw;
}

/**
 * A bootstrap bundle (SPIFFE JSON, or PEM certificates) as the bundle of `td`.
 * @throws SpiffeError `malformed_bundle` / `malformed_certificate`
 */
export function parseBootstrapBundle(text: string, td: TrustDomain): SpiffeBundle {
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) return SpiffeBundle.parse(trimmed, td);
  return SpiffeBundle.fromX509Bundle(X509Bundle.parsePem(td, trimmed));
}

function readCaRoots(raw: unknown, fail: Fail): string | undefined {
  const field = 'caRootsPem';
  if (typeof raw !== 'string' || raw.trim().length === 0) return fail(field, 'must be PEM certificates');
  if (Buffer.byteLength(raw) > RELATIONSHIP_LIMITS.maxDocumentBytes) return fail(field, 'is too large');
  try {
    if (parsePemCertificates(raw).length === 0) return fail(field, 'contains no certificates');
  } catch (err) {
    return fail(field, (err as Error).message);
  }
  return raw;
}

function readDenied(raw: unknown, fail: Fail): string[] | undefined {
  const max = RELATIONSHIP_LIMITS.maxDeniedAuthorities;
  if (!Array.isArray(raw) || raw.length > max) return fail('deniedAuthorities', `must be a list of at most ${max} fingerprints or ski: ids`);
  const out: string[] = [];
  raw.forEach((item: unknown, i: number) => {
    const normalized = typeof item === 'string' ? normalizeAuthorityRef(item) : undefined;
    if (normalized === undefined) {
      fail(`deniedAuthorities[${i}]`, 'must be a SHA-256 fingerprint (64 hex digits, colons allowed) or ski:<hex>');
    } else if (!out.includes(normalized)) {
      out.push(normalized);
    }
  });
  return out;
}

/** Removes denied authorities from a bundle (by fingerprint or SKI); reports which were removed (their fingerprints). */
export function applyDenyList(bundle: SpiffeBundle, denied: readonly string[]): { bundle: SpiffeBundle; removed: string[] } {
  if (denied.length === 0) return { bundle, removed: [] };
  const deny = new Set(denied.map((d) => normalizeAuthorityRef(d) ?? d));
  const kept = [];
  const removed: string[] = [];
  for (const cert of bundle.x509Authorities) {
    if (authorityIds(cert).some((id) => deny.has(id))) removed.push(fingerprintOf(cert));
    else kept.push(cert);
  }
  if (removed.length === 0) return { bundle, removed };
  const filtered = SpiffeBundle.fromX509Authorities(bundle.trustDomain, kept, {
    sequence: bundle.sequence,
    refreshHint: bundle.refreshHint,
    jwtAuthorities: [...bundle.jwtAuthorities.values()],
  });
  return { bundle: filtered, removed };
}
