import { createHash, type Hash } from 'node:crypto';
import { ParleyError } from '../../common/errors';
import { ContentId } from './content-id';

export interface PayloadExpectations {
  /** Largest payload accepted (the configured maximum record size). */
  readonly maxBytes: number;
  /** Exact size the caller announced, if any. */
  readonly expectedSize?: number;
  /** Digest the caller announced, if any. */
  readonly expectedDigest?: ContentId;
}

/**
 * Hashes a payload as it streams through and enforces the size rules on every update, so
 * an oversized push fails at the first byte too many and never after buffering it.
 * `finish()` checks the announced size and digest and returns the CID.
 */
export class ContentDigest {
  private readonly hash: Hash = createHash('sha256');
  private received = 0;
  private finished = false;

  constructor(private readonly expect: PayloadExpectations) {
    if (!Number.isSafeInteger(expect.maxBytes) || expect.maxBytes < 0) throw new TypeError('ContentDigest: maxBytes must be a non-negative integer');
    checkAnnouncedSize(expect);
  }

  /** Bytes hashed so far. */
  get size(): number {
    return this.received;
  }

  /** @throws ParleyError resource_exhausted (above the maximum) | invalid_argument (above the announced size) */
  update(chunk: Uint8Array): void {
    if (this.finished) throw new Error('ContentDigest: update after finish');
    const next = this.received + chunk.length;
    if (next > this.expect.maxBytes) {
      throw new ParleyError('resource_exhausted', `push: payload exceeds the maximum record size of ${this.expect.maxBytes} bytes`, {
        details: { maxBytes: this.expect.maxBytes },
      });
    }
    if (this.expect.expectedSize !== undefined && next > this.expect.expectedSize) {
      throw sizeMismatch(`more than the expected ${this.expect.expectedSize} bytes`);
    }
    this.hash.update(chunk);
    this.received = next;
  }

  /** @throws ParleyError invalid_argument (size or digest mismatch) */
  finish(): { cid: ContentId; size: number } {
    if (this.finished) throw new Error('ContentDigest: finish called twice');
    this.finished = true;
    if (this.expect.expectedSize !== undefined && this.received !== this.expect.expectedSize) {
      throw sizeMismatch(`${this.received} bytes received, ${this.expect.expectedSize} expected`);
    }
    const cid = ContentId.fromSha256(this.hash.digest());
    if (this.expect.expectedDigest !== undefined && !cid.equals(this.expect.expectedDigest)) {
      throw new ParleyError('invalid_argument', `push: digest mismatch: payload is ${cid.toString()}, expected ${this.expect.expectedDigest.toString()}`, {
        details: { cid: cid.toString(), expected: this.expect.expectedDigest.toString() },
      });
    }
    return { cid, size: this.received };
  }
}

/** An announced size above the maximum fails before any payload is read. */
export function checkAnnouncedSize(expect: PayloadExpectations): void {
  if (expect.expectedSize === undefined) return;
  if (!Number.isSafeInteger(expect.expectedSize) || expect.expectedSize < 0) {
    throw new ParleyError('invalid_argument', 'push: expected_size is out of range', { details: { field: 'expected_size' } });
  }
  if (expect.expectedSize > expect.maxBytes) {
    throw new ParleyError('resource_exhausted', `push: expected_size ${expect.expectedSize} exceeds the maximum record size of ${expect.maxBytes} bytes`, {
      details: { maxBytes: expect.maxBytes, field: 'expected_size' },
    });
  }
}

function sizeMismatch(why: string): ParleyError {
  return new ParleyError('invalid_argument', `push: size mismatch: ${why}`, { details: { field: 'expected_size' } });
}
