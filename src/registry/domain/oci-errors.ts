/**
 * The Distribution Spec's error codes and their HTTP statuses, the body every failed request
 * gets (`{"errors":[{"code","message","detail"}]}`), and `Range` parsing. Pure.
 */

export const OCI_ERROR_STATUS = {
  BLOB_UNKNOWN: 404,
  BLOB_UPLOAD_INVALID: 400,
  BLOB_UPLOAD_UNKNOWN: 404,
  DIGEST_INVALID: 400,
  MANIFEST_BLOB_UNKNOWN: 404,
  MANIFEST_INVALID: 400,
  MANIFEST_UNKNOWN: 404,
  NAME_INVALID: 400,
  NAME_UNKNOWN: 404,
  SIZE_INVALID: 400,
  UNAUTHORIZED: 401,
  DENIED: 403,
  UNSUPPORTED: 405,
  TOOMANYREQUESTS: 429,
  RANGE_INVALID: 416,
  UNAVAILABLE: 503,
  INTERNAL: 500,
} as const;

export type OciErrorCode = keyof typeof OCI_ERROR_STATUS;

/** A refusal as the spec words it: the code, a message the caller may see (never a secret), the status, headers of the answer (`Retry-After`). */
export class OciError extends Error {
  readonly status: number;

  constructor(
    readonly code: OciErrorCode,
    message: string,
    status?: number,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = 'OciError';
    this.status = status ?? OCI_ERROR_STATUS[code];
  }
}

export function errorBody(code: OciErrorCode, message: string): Buffer {
  return Buffer.from(JSON.stringify({ errors: [{ code, message, detail: {} }] }), 'utf8');
}

/** The byte range a request asks for: [start, end) within `size`. */
export interface ByteRange {
  readonly start: number;
  readonly end: number;
}

/**
 * `Range: bytes=a-b`, `bytes=a-` or `bytes=-n` (one range only) against a blob of `size`
 * bytes; undefined when no Range was sent.
 * @throws OciError RANGE_INVALID (416) for a malformed or unsatisfiable range
 */
export function parseRange(header: string | undefined, size: number): ByteRange | undefined {
  if (header === undefined) return undefined;
  const m = /^bytes=(\d{0,16})-(\d{0,16})$/.exec(header.trim());
  if (m === null || (m[1] === '' && m[2] === '')) throw new OciError('RANGE_INVALID', 'range: only one "bytes=start-end" range is supported');
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0) throw new OciError('RANGE_INVALID', 'range: empty suffix range');
    return { start: Math.max(0, size - suffix), end: size };
  }
  const start = Number(m[1]);
  const last = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size || last < start) throw new OciError('RANGE_INVALID', `range: bytes ${start}-${m[2]} are outside the blob (${size} bytes)`);
  return { start, end: last + 1 };
}

/**
 * `Content-Range: a-b` of a chunked upload's PATCH (the spec's form, without "bytes ");
 * undefined when absent.
 * @throws OciError RANGE_INVALID when malformed
 */
export function parseUploadRange(header: string | undefined): ByteRange | undefined {
  if (header === undefined) return undefined;
  const m = /^(?:bytes )?(\d{1,16})-(\d{1,16})(?:\/(?:\d{1,16}|\*))?$/.exec(header.trim());
  if (m === null || Number(m[2]) < Number(m[1])) throw new OciError('RANGE_INVALID', 'content-range: expected "start-end"');
  return { start: Number(m[1]), end: Number(m[2]) + 1 };
}

/** The `n` and `last` of a tags list request. @throws OciError */
export function parseTagsQuery(query: URLSearchParams, maxPage: number): { n: number; last?: string } {
  const nText = query.get('n');
  let n = maxPage;
  if (nText !== null) {
    if (!/^\d{1,9}$/.test(nText)) throw new OciError('UNSUPPORTED', 'tags list: n must be a non-negative integer', 400);
    n = Math.min(Number(nText), maxPage);
  }
  const last = query.get('last') ?? undefined;
  return { n, last };
}

/** One page of tags in lexical order after `last`, with whether more follow. */
export function pageTags(tags: readonly string[], n: number, last?: string): { tags: string[]; more: boolean } {
  const sorted = [...tags].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const after = last === undefined ? sorted : sorted.filter((t) => t > last);
  return { tags: after.slice(0, n), more: after.length > n };
}
