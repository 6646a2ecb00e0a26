import { createHash } from 'node:crypto';
import { ParleyError } from '../../common/errors';
import { TrustDomain } from '../../spiffe';
import type { StoreLimits } from './limits';
import { parseAnnotations, parseMediaType, parseNamespace, type Annotations } from './names';

/** A validated List filter; every field optional, all combine with AND. */
export interface ListFilter {
  readonly namespace?: string;
  readonly includeSubNamespaces: boolean;
  readonly annotations: Annotations;
  readonly mediaType?: string;
  readonly creatorTrustDomain?: string;
  /** Microseconds since the Unix epoch (PostgreSQL's precision). */
  readonly createdAfterMicros?: bigint;
}

/** What a List call asks for: the filter, where to continue, how many. */
export interface ListQuery {
  readonly filter: ListFilter;
  /** Records strictly after this position (0: from the start). */
  readonly afterSeq: bigint;
  readonly pageSize: number;
}

export interface ListRequestFields {
  namespace?: string;
  includeSubNamespaces?: boolean;
  annotations?: Record<string, string>;
  mediaType?: string;
  creatorTrustDomain?: string;
  createdAfterMicros?: bigint;
  pageSize?: number;
  pageToken?: string;
}

const CURSOR_VERSION = 1;
const MAX_TOKEN_CHARS = 256;
/** Years 0001 to 9999, as protobuf Timestamp allows. */
const MIN_MICROS = -62_135_596_800_000_000n;
const MAX_MICROS = 253_402_300_799_999_999n;

/** Validates a List request. @throws ParleyError invalid_argument | resource_exhausted */
export function parseListQuery(req: ListRequestFields, limits: StoreLimits): ListQuery {
  const namespace = req.namespace ? parseNamespace(req.namespace) : undefined;
  if (req.includeSubNamespaces && namespace === undefined) throw invalid('include_sub_namespaces', 'requires namespace');
  let creatorTrustDomain: string | undefined;
  if (req.creatorTrustDomain) {
    try {
      creatorTrustDomain = TrustDomain.parse(req.creatorTrustDomain).name;
    } catch {
      throw invalid('creator_trust_domain', 'not a trust domain name');
    }
  }
  if (req.createdAfterMicros !== undefined && (req.createdAfterMicros < MIN_MICROS || req.createdAfterMicros > MAX_MICROS)) {
    throw invalid('created_after', 'out of range');
  }
  const filter: ListFilter = Object.freeze({
    namespace,
    includeSubNamespaces: namespace !== undefined && req.includeSubNamespaces === true,
    annotations: parseAnnotations(req.annotations ?? {}, limits),
    mediaType: req.mediaType ? parseMediaType(req.mediaType) : undefined,
    creatorTrustDomain,
    createdAfterMicros: req.createdAfterMicros,
  });
  const size = req.pageSize ?? 0;
  if (!Number.isInteger(size) || size < 0) throw invalid('page_size', 'must be a non-negative integer');
  const pageSize = size === 0 ? limits.defaultPageSize : Math.min(size, limits.maxPageSize);
  const afterSeq = req.pageToken ? decodeCursor(req.pageToken, filter) : 0n;
  return Object.freeze({ filter, afterSeq, pageSize });
}

/**
 * The page token after a record: opaque base64url of the version, the position and a
 * fingerprint of the filter, so a token is only accepted with the filter it was made for.
 */
export function encodeCursor(lastSeq: bigint, filter: ListFilter): string {
  return Buffer.from(JSON.stringify([CURSOR_VERSION, lastSeq.toString(), filterFingerprint(filter)]), 'utf8').toString('base64url');
}

/** @throws ParleyError invalid_argument */
export function decodeCursor(token: string, filter: ListFilter): bigint {
  if (token.length > MAX_TOKEN_CHARS || !/^[A-Za-z0-9_-]+$/.test(token)) throw invalid('page_token', 'malformed');
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    throw invalid('page_token', 'malformed');
  }
  if (!Array.isArray(parsed) || parsed.length !== 3 || parsed[0] !== CURSOR_VERSION) throw invalid('page_token', 'malformed');
  const [, seq, fingerprint] = parsed as [number, unknown, unknown];
  if (typeof seq !== 'string' || !/^[0-9]{1,19}$/.test(seq)) throw invalid('page_token', 'malformed');
  if (fingerprint !== filterFingerprint(filter)) throw invalid('page_token', 'was issued for different filters');
  return BigInt(seq);
}

function filterFingerprint(f: ListFilter): string {
  const canonical = JSON.stringify([
    f.namespace ?? null,
    f.includeSubNamespaces,
    Object.entries(f.annotations).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
    f.mediaType ?? null,
    f.creatorTrustDomain ?? null,
    f.createdAfterMicros?.toString() ?? null,
  ]);
  return createHash('sha256').update(canonical).digest('base64url').slice(0, 16);
}

function invalid(field: string, why: string): ParleyError {
  return new ParleyError('invalid_argument', `list: ${field}: ${why}`, { details: { field } });
}
