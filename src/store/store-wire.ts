import type { PackageDefinition } from '@grpc/proto-loader';
import { ParleyError } from '../common';
import { loadProto } from '../common';
import { ContentId } from './domain/content-id';
import type { StoreLimits } from './domain/limits';
import { parseAnnotations, parseMediaType, parseNamespace, type Annotations } from './domain/names';
import { microsToTimestamp, type RecordMeta, type ReferrerDocument } from './domain/record';

/** The store proto, relative to proto/. */
export const STORE_PROTO = 'parley/store/v1/store.proto';
export const STORE_SERVICE = 'parley.store.v1.StoreService';

let cached: PackageDefinition | undefined;

/** The store's package definition (loaded once): for `addService`, clients and reflection. */
export function storePackageDefinition(): PackageDefinition {
  cached ??= loadProto(STORE_PROTO);
  return cached;
}

/** Full gRPC names (`/parley.store.v1.StoreService/Push`, …) of every store rpc, from the proto. */
export function storeMethodNames(): string[] {
  const service = storePackageDefinition()[STORE_SERVICE] as Record<string, { path: string }> | undefined;
  if (service === undefined) throw new Error(`store proto does not define ${STORE_SERVICE}`);
  return Object.values(service).map((m) => m.path);
}

// Messages as proto-loader delivers and accepts them (PROTO_LOADER_OPTIONS: field names as
// written, 64-bit integers as decimal strings, defaults filled in, `part` naming the oneof).

export interface WireTimestamp {
  seconds: string | number;
  nanos: number;
}
export interface WireRecordRef {
  cid: string;
}
export interface WireRecord {
  cid: string;
  namespace: string;
  media_type: string;
  size: string | number;
  annotations: Record<string, string>;
  creator_spiffe_id: string;
  creator_trust_domain: string;
  created_at: WireTimestamp;
}
export interface WirePushHeader {
  namespace?: string;
  media_type?: string;
  annotations?: Record<string, string>;
  expected_size?: string | number;
  expected_digest?: string;
}
export interface WirePushResponse {
  cid: string;
  /** Absent from a gateway whose Push returned a RecordRef. */
  already_stored?: boolean;
  record?: WireRecord | null;
}
export interface WirePushRequest {
  part?: 'header' | 'chunk';
  header?: WirePushHeader | null;
  chunk?: Buffer;
}
export interface WirePullRequest {
  ref?: WireRecordRef | null;
  offset?: string | number;
  length?: string | number;
}
/** `encoded`: a `{ chunk }` message already in protobuf form (pull-frames.ts), sent as is by the server's serializer. */
export type WirePullResponse = { record: WireRecord } | { chunk: Buffer } | { encoded: Buffer };
export interface WireLookupRequest {
  refs?: WireRecordRef[];
  allow_missing?: boolean;
}
export interface WireLookupResponse {
  records: WireRecord[];
  missing: WireRecordRef[];
}
export interface WireDeleteRequest {
  ref?: WireRecordRef | null;
}
export interface WireListRequest {
  namespace?: string;
  include_sub_namespaces?: boolean;
  annotations?: Record<string, string>;
  media_type?: string;
  creator_trust_domain?: string;
  created_after?: WireTimestamp | null;
  page_size?: number;
  page_token?: string;
}
export interface WireListResponse {
  records: WireRecord[];
  next_page_token: string;
}
export interface WireReferrer {
  cid?: string;
  type?: string;
  media_type?: string;
  data?: Buffer;
  annotations?: Record<string, string>;
  record?: WireRecordRef | null;
  creator_spiffe_id?: string;
  created_at?: WireTimestamp | null;
}
export interface WirePushReferrerRequest {
  record?: WireRecordRef | null;
  referrer?: WireReferrer | null;
}
export interface WirePullReferrerRequest {
  record?: WireRecordRef | null;
  type?: string;
}
export interface WireDeleteReferrerRequest {
  record?: WireRecordRef | null;
  cid?: string;
}

/** A validated push header. */
export interface PushHeader {
  readonly namespace: string;
  readonly mediaType: string;
  readonly annotations: Annotations;
  readonly expectedSize?: number;
  readonly expectedDigest?: ContentId;
}

/** @throws ParleyError invalid_argument | resource_exhausted */
export function parsePushHeader(h: WirePushHeader, limits: StoreLimits): PushHeader {
  return Object.freeze({
    namespace: parseNamespace(h.namespace, 'header.namespace'),
    mediaType: parseMediaType(h.media_type, 'header.media_type'),
    annotations: parseAnnotations(h.annotations, limits, 'header.annotations'),
    expectedSize: h.expected_size === undefined || h.expected_size === null ? undefined : parseUint64(h.expected_size, 'header.expected_size'),
    expectedDigest: h.expected_digest === undefined || h.expected_digest === null ? undefined : ContentId.parseDigest(h.expected_digest, 'header.expected_digest'),
  });
}

/** A uint64 field as a number; values beyond 2^53 come out as MAX_SAFE_INTEGER (larger than any limit). */
export function parseUint64(value: string | number | undefined | null, field: string): number {
  const text = String(value ?? '0');
  if (!/^[0-9]{1,20}$/.test(text)) throw new ParleyError('invalid_argument', `${field}: not an unsigned integer`, { details: { field } });
  const n = BigInt(text);
  return n > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(n);
}

/** The CID of a RecordRef field. @throws ParleyError invalid_argument */
export function refCid(ref: WireRecordRef | null | undefined, field: string): ContentId {
  return ContentId.parse(ref?.cid, `${field}.cid`);
}

const wireForms = new WeakMap<RecordMeta, WireRecord>();

/**
 * The wire form of a record object, made once per object (records are immutable; the record
 * cache hands out the same object until it is evicted). Callers must not modify it.
 */
export function wireRecordOf(r: RecordMeta): WireRecord {
  let wire = wireForms.get(r);
  if (wire === undefined) wireForms.set(r, (wire = toWireRecord(r)));
  return wire;
}

export function toWireRecord(r: RecordMeta): WireRecord {
  return {
    cid: r.cid.toString(),
    namespace: r.namespace,
    media_type: r.mediaType,
    size: String(r.size),
    annotations: { ...r.annotations },
    creator_spiffe_id: r.creatorSpiffeId,
    creator_trust_domain: r.creatorTrustDomain,
    created_at: microsToTimestamp(r.createdAtMicros),
  };
}

export function toWireReferrer(d: ReferrerDocument): WireReferrer {
  return {
    cid: d.cid.toString(),
    type: d.type,
    media_type: d.mediaType,
    data: d.data,
    annotations: { ...d.annotations },
    record: { cid: d.recordCid.toString() },
    creator_spiffe_id: d.creatorSpiffeId,
    created_at: microsToTimestamp(d.createdAtMicros),
  };
}
