import { ParleyError } from '../../common/errors';
import type { ContentId } from './content-id';
import type { Annotations } from './names';

/** Metadata of a visible record. */
export interface RecordMeta {
  readonly cid: ContentId;
  readonly namespace: string;
  readonly mediaType: string;
  readonly size: number;
  readonly annotations: Annotations;
  readonly creatorSpiffeId: string;
  readonly creatorTrustDomain: string;
  /** Microseconds since the Unix epoch (exact, as stored). */
  readonly createdAtMicros: bigint;
}

/** What a push asks to store, once the header is validated. */
export interface RecordDraft {
  readonly namespace: string;
  readonly mediaType: string;
  readonly annotations: Annotations;
  readonly creatorSpiffeId: string;
  readonly creatorTrustDomain: string;
}

/** A document attached to a record. */
export interface ReferrerMeta {
  readonly cid: ContentId;
  readonly recordCid: ContentId;
  readonly type: string;
  readonly mediaType: string;
  readonly annotations: Annotations;
  readonly creatorSpiffeId: string;
  readonly createdAtMicros: bigint;
}

export interface ReferrerDocument extends ReferrerMeta {
  readonly data: Buffer;
}

/** Seconds and nanoseconds of a protobuf Timestamp for epoch microseconds. */
export function microsToTimestamp(micros: bigint): { seconds: string; nanos: number } {
  const seconds = micros >= 0n ? micros / 1_000_000n : -((-micros + 999_999n) / 1_000_000n);
  const nanos = Number(micros - seconds * 1_000_000n) * 1000;
  return { seconds: seconds.toString(), nanos };
}

/**
 * Epoch microseconds of a protobuf Timestamp (nanoseconds below a microsecond dropped).
 * @throws ParleyError invalid_argument
 */
export function timestampToMicros(ts: { seconds?: string | number | null; nanos?: number | null }, field: string): bigint {
  const nanos = ts.nanos ?? 0;
  const seconds = String(ts.seconds ?? '0');
  if (!/^-?[0-9]{1,12}$/.test(seconds) || !Number.isInteger(nanos) || nanos < 0 || nanos > 999_999_999) {
    throw new ParleyError('invalid_argument', `${field}: not a valid timestamp`, { details: { field } });
  }
  return BigInt(seconds) * 1_000_000n + BigInt(Math.floor(nanos / 1000));
}

/** The error for a CID no record has. */
export function recordNotFound(cid: ContentId): ParleyError {
  return new ParleyError('not_found', `record ${cid.toString()} not found`, { details: { cid: cid.toString() } });
}
