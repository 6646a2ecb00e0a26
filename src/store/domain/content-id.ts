import { createHash } from 'node:crypto';
import { ParleyError } from '../../common/errors';
import { decodeMultibase, encodeBase32Multibase } from './multibase';

/** Longest CID text accepted (base32 of a CIDv1 raw sha2-256 is 59 characters). */
const MAX_CID_TEXT = 128;
const SHA256_BYTES = 32;
const SHA256_PREFIX = 'sha256:';
const CID_V1 = 0x01;
const RAW_CODEC = 0x55;
const SHA2_256 = 0x12;
/** Binary CIDv1 raw sha2-256: version, codec, multihash code and length (all one-byte varints), digest. */
const HEADER = Uint8Array.from([CID_V1, RAW_CODEC, SHA2_256, SHA256_BYTES]);

/**
 * The identifier of a record or referrer: CIDv1, raw codec, sha2-256 of the bytes. Always
 * valid once constructed; `toString()` is the canonical base32 form ("bafkrei...") used in
 * the database and in every response.
 */
export class ContentId {
  /** The 32-byte SHA-256 digest. */
  readonly digest: Buffer;
  private readonly text: string;

  private constructor(digest: Uint8Array) {
    this.digest = Buffer.from(digest);
    this.text = encodeBase32Multibase(Buffer.concat([HEADER, this.digest]));
    Object.freeze(this);
  }

  /** The CID of a SHA-256 digest. */
  static fromSha256(digest: Uint8Array): ContentId {
    if (!(digest instanceof Uint8Array) || digest.length !== SHA256_BYTES) throw new TypeError('ContentId.fromSha256: digest must be 32 bytes');
    return new ContentId(digest);
  }

  /**
   * Parses a CID given by a caller (multibase base32, base58btc or base36). `field` names
   * the request field in the error.
   * @throws ParleyError invalid_argument
   */
  static parse(text: unknown, field = 'cid'): ContentId {
    if (typeof text !== 'string' || text.length === 0) throw invalidCid(field, 'missing');
    if (text.length > MAX_CID_TEXT) throw invalidCid(field, `longer than ${MAX_CID_TEXT} characters`);
    if (/^Qm[1-9A-HJ-NP-Za-km-z]{44}$/.test(text)) throw invalidCid(field, 'cid version 0 is not supported (want cidv1)');
    const bytes = decodeMultibase(text);
    if (bytes === undefined || bytes.length < 2) throw invalidCid(field, 'not a cid (base32 "b", base58btc "z" or base36 "k" expected)');
    if (bytes[0] !== CID_V1) throw invalidCid(field, `cid version byte 0x${bytes[0].toString(16)} is not supported (want cidv1)`);
    if (bytes[1] !== RAW_CODEC) throw invalidCid(field, `codec byte 0x${bytes[1].toString(16)} is not supported (want raw, 0x55)`);
    if (bytes.length < 4 || bytes[2] !== SHA2_256 || bytes[3] !== SHA256_BYTES) throw invalidCid(field, 'multihash is not sha2-256');
    if (bytes.length !== HEADER.length + SHA256_BYTES) throw invalidCid(field, 'digest length is not 32 bytes');
    return new ContentId(bytes.subarray(HEADER.length));
  }

  /**
   * Parses an expected digest: a CID (as `parse`) or `sha256:` and 64 lowercase hex digits.
   * @throws ParleyError invalid_argument
   */
  static parseDigest(text: unknown, field = 'expected_digest'): ContentId {
    if (typeof text === 'string' && text.startsWith(SHA256_PREFIX)) {
      const hex = text.slice(SHA256_PREFIX.length);
      if (!/^[0-9a-f]{64}$/.test(hex)) throw invalidCid(field, 'sha256: must be followed by 64 lowercase hex digits');
      return new ContentId(Buffer.from(hex, 'hex'));
    }
    return ContentId.parse(text, field);
  }

  /** The CID of some bytes (small documents; stream large payloads through ContentDigest). */
  static of(bytes: Uint8Array): ContentId {
    return new ContentId(hashOf(bytes));
  }

  /** `sha256:<hex>`, the OCI form of the digest. */
  get sha256Hex(): string {
    return `${SHA256_PREFIX}${this.digest.toString('hex')}`;
  }

  equals(other: ContentId): boolean {
    return this.digest.equals(other.digest);
  }

  toString(): string {
    return this.text;
  }

  toJSON(): string {
    return this.text;
  }
}

function hashOf(bytes: Uint8Array): Buffer {
  return createHash('sha256').update(bytes).digest();
}

function invalidCid(field: string, why: string): ParleyError {
  return new ParleyError('invalid_argument', `${field}: invalid cid: ${why}`, { details: { field } });
}
