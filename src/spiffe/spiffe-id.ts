/**
 * `TrustDomain` and `SpiffeId` value types. Both live in this file because each refers to
 * the other (`TrustDomain.id()`, `SpiffeId.trustDomain`) and the module has no import cycles.
 * Instances are frozen and always valid; equality is exact string equality.
 */
import { SpiffeError } from './errors';
import {
  checkPath,
  checkPathSegment,
  checkTrustDomainName,
  MAX_ID_BYTES,
  REASON,
  SCHEME_PREFIX,
} from './id-syntax';

const PREFIX_LEN = SCHEME_PREFIX.length;

// Module-private factories (assigned in the classes' static blocks) for values already
// validated here; the constructors stay private to the outside world.
let newTrustDomain: (name: string) => TrustDomain;
let newSpiffeId: (td: TrustDomain, path: string, text: string) => SpiffeId;

export class TrustDomain {
  readonly name: string;

  private constructor(name: string) {
    this.name = name;
    Object.freeze(this);
  }

  /**
   * Parses a bare trust domain name (`example.org`) or a full SPIFFE ID whose trust domain
   * is returned (`spiffe://example.org/path`), like go-spiffe `TrustDomainFromString`.
   * @throws SpiffeError `invalid_trust_domain`
   */
  static parse(idOrName: string): TrustDomain {
    if (typeof idOrName !== 'string') throw tdError('input must be a string');
    if (idOrName.length === 0) throw tdError(REASON.missingTrustDomain);
    if (idOrName.includes(':/')) {
      // Looks like a URI: parse it as a full ID so the diagnostics are about the ID.
      const reason = scanId(idOrName);
      if (typeof reason === 'string') throw tdError(reason);
      return reason.trustDomain;
    }
    const reason = checkTrustDomainName(idOrName);
    if (reason !== undefined) throw tdError(reason);
    return newTrustDomain(idOrName);
  }

  static {
    newTrustDomain = (name) => new TrustDomain(name);
  }

  /** The trust domain's own ID, `spiffe://<name>`. */
  id(): SpiffeId {
    return SpiffeId.fromPath(this, '');
  }

  /** `spiffe://<name>`, the form used as map keys by the Workload API. */
  idString(): string {
    return SCHEME_PREFIX + this.name;
  }

  equals(other: TrustDomain | undefined | null): boolean {
    return other instanceof TrustDomain && other.name === this.name;
  }

  compare(other: TrustDomain): number {
    return compareStrings(this.name, other.name);
  }

  toString(): string {
    return this.name;
  }

  toJSON(): string {
    return this.name;
  }
}

/** The last serial given to a SpiffeId object. */
let lastSerial = 0;

export class SpiffeId {
  readonly trustDomain: TrustDomain;
  /** Empty, or `/seg(/seg)*`. Case-sensitive. */
  readonly path: string;
  /**
   * A number that tells this object apart from every other SpiffeId object of the process
   * (not this ID from other IDs: two parses of one ID get two serials). For caches keyed by
   * object, such as the authorization policy's per-connection decisions; never compare IDs
   * by it.
   */
  readonly serial: number;
  readonly #text: string;

  private constructor(trustDomain: TrustDomain, path: string, text: string) {
    this.trustDomain = trustDomain;
    this.path = path;
    // Wraps after 2^53 objects, far beyond a process's life; a repeat only costs a cache miss.
    this.serial = lastSerial = lastSerial >= Number.MAX_SAFE_INTEGER ? 1 : lastSerial + 1;
    this.#text = text;
    Object.freeze(this);
  }

  /**
   * Parses `spiffe://<trust-domain>[/path]` (CONFORMANCE §1). No trimming or case folding.
   * @throws SpiffeError `invalid_spiffe_id`
   */
  static parse(s: string): SpiffeId {
    if (typeof s !== 'string') throw idError('input must be a string');
    const result = scanId(s);
    if (typeof result === 'string') throw idError(result);
    return result;
  }

  /** Returns the ID, or `undefined` when `s` is not a valid SPIFFE ID. */
  static tryParse(s: string): SpiffeId | undefined {
    if (typeof s !== 'string') return undefined;
    const result = scanId(s);
    return typeof result === 'string' ? undefined : result;
  }

  /**
   * Builds an ID from path segments, each validated on its own (no slashes inside).
   * @throws SpiffeError `invalid_path`, `invalid_spiffe_id` (too long)
   */
  static fromSegments(td: TrustDomain, ...segments: string[]): SpiffeId {
    let path = '';
    for (const segment of segments) {
      const reason = typeof segment === 'string' ? checkPathSegment(segment) : 'path segment must be a string';
      if (reason !== undefined) throw new SpiffeError('invalid_path', `invalid spiffe id path segment: ${reason}`);
      path += '/' + segment;
    }
    return SpiffeId.build(td, path);
  }

  /**
   * Builds an ID from a whole path (`''` or `/a/b`).
   * @throws SpiffeError `invalid_path`, `invalid_spiffe_id` (too long)
   */
  static fromPath(td: TrustDomain, path: string): SpiffeId {
    const reason = typeof path === 'string' ? checkPath(path) : 'path must be a string';
    if (reason !== undefined) throw new SpiffeError('invalid_path', `invalid spiffe id path: ${reason}`);
    return SpiffeId.build(td, path);
  }

  private static build(td: TrustDomain, path: string): SpiffeId {
    if (!(td instanceof TrustDomain)) throw new TypeError('spiffe id: trust domain must be a TrustDomain');
    const text = SCHEME_PREFIX + td.name + path;
    if (text.length > MAX_ID_BYTES) throw idError(REASON.idLength);
    return new SpiffeId(td, path, text);
  }

  static {
    newSpiffeId = (td, path, text) => new SpiffeId(td, path, text);
  }

  memberOf(td: TrustDomain): boolean {
    return this.trustDomain.name === td.name;
  }

  equals(other: SpiffeId | undefined | null): boolean {
    return other instanceof SpiffeId && other.#text === this.#text;
  }

  compare(other: SpiffeId): number {
    return compareStrings(this.#text, other.#text);
  }

  toString(): string {
    return this.#text;
  }

  toJSON(): string {
    return this.#text;
  }
}

/** Throws `invalid_spiffe_id` unless `s` is valid; for constants and tests. */
export function requireSpiffeId(s: string): SpiffeId {
  return SpiffeId.parse(s);
}

/** Throws `invalid_trust_domain` unless `s` is valid; for constants and tests. */
export function requireTrustDomain(s: string): TrustDomain {
  return TrustDomain.parse(s);
}

/** One pass over `s`; returns the ID or the reason it is invalid. */
function scanId(s: string): SpiffeId | string {
  const n = s.length;
  if (n === 0) return REASON.empty;
  if (n < PREFIX_LEN || !s.startsWith(SCHEME_PREFIX)) return REASON.scheme;
  let end = PREFIX_LEN;
  while (end < n && s.charCodeAt(end) !== 0x2f) end++;
  const tdReason = checkTrustDomainName(s, PREFIX_LEN, end);
  if (tdReason !== undefined) return tdReason;
  const pathReason = checkPath(s, end, n);
  if (pathReason !== undefined) return pathReason;
  // Accepted characters are ASCII: length is the byte count.
  if (n > MAX_ID_BYTES) return REASON.idLength;
  const td = newTrustDomain(s.slice(PREFIX_LEN, end));
  return newSpiffeId(td, end === n ? '' : s.slice(end), s);
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function idError(reason: string): SpiffeError {
  return new SpiffeError('invalid_spiffe_id', `invalid spiffe id: ${reason}`);
}

function tdError(reason: string): SpiffeError {
  return new SpiffeError('invalid_trust_domain', `invalid trust domain: ${reason}`);
}
