/**
 * Minimal RFC 7468 PEM reader/writer. Blocks are found by their BEGIN/END lines; a block
 * whose END line is missing or whose body is not base64 is returned with `der: undefined`
 * so the caller can decide whether it matters (blocks of other types are simply skipped).
 */

export interface PemBlock {
  readonly type: string;
  /** Decoded body, or `undefined` when the block is malformed. */
  readonly der: Buffer | undefined;
}

const BEGIN = '-----BEGIN ';
const END = '-----END ';
const DASHES = '-----';

/** True when `input` contains at least the start of a PEM block. */
export function looksLikePem(input: string | Uint8Array): boolean {
  return toText(input).includes(BEGIN);
}

export function decodePemBlocks(input: string | Uint8Array): PemBlock[] {
  const text = toText(input);
  const blocks: PemBlock[] = [];
  let pos = 0;
  for (;;) {
    const begin = text.indexOf(BEGIN, pos);
    if (begin < 0) return blocks;
    const typeStart = begin + BEGIN.length;
    const typeEnd = text.indexOf(DASHES, typeStart);
    const lineEnd = lineEndAfter(text, typeStart);
    if (typeEnd < 0 || typeEnd > lineEnd) {
      pos = typeStart;
      continue;
    }
    const type = text.slice(typeStart, typeEnd);
    const bodyStart = typeEnd + DASHES.length;
    const endMarker = END + type + DASHES;
    const end = text.indexOf(endMarker, bodyStart);
    if (end < 0) {
      blocks.push({ type, der: undefined });
      return blocks;
    }
    blocks.push({ type, der: decodeBody(text, bodyStart, end) });
    pos = end + endMarker.length;
  }
}

/** Encodes DER as one PEM block with 64-character lines. */
export function encodePem(type: string, der: Uint8Array): string {
  const b64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64');
  let out = `${BEGIN}${type}${DASHES}\n`;
  for (let i = 0; i < b64.length; i += 64) out += b64.slice(i, i + 64) + '\n';
  return out + `${END}${type}${DASHES}\n`;
}

function toText(input: string | Uint8Array): string {
  if (typeof input === 'string') return input;
  return Buffer.from(input.buffer, input.byteOffset, input.byteLength).toString('latin1');
}

function lineEndAfter(text: string, from: number): number {
  const nl = text.indexOf('\n', from);
  return nl < 0 ? text.length : nl;
}

/**
 * Strict base64 body: characters A–Z a–z 0–9 + / with at most two trailing `=`, whitespace
 * anywhere. RFC 7468 headers (`Key: value` lines) are not supported and make the block malformed.
 */
function decodeBody(text: string, start: number, end: number): Buffer | undefined {
  let clean = '';
  let padding = 0;
  let chunkStart = -1;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    const isSpace = c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
    if (isSpace) {
      if (chunkStart >= 0) {
        clean += text.slice(chunkStart, i);
        chunkStart = -1;
      }
      continue;
    }
    if (c === 0x3d) {
      padding++;
    } else if (padding > 0 || !isBase64Char(c)) {
      return undefined;
    }
    if (chunkStart < 0) chunkStart = i;
  }
  if (chunkStart >= 0) clean += text.slice(chunkStart, end);
  if (clean.length === 0 || clean.length % 4 !== 0 || padding > 2) return undefined;
  return Buffer.from(clean, 'base64');
}

function isBase64Char(c: number): boolean {
  return (
    (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2b || c === 0x2f
  );
}

/** Strict standard base64 (as in JWK `x5c`): no whitespace, correct padding. */
export function decodeStrictBase64(s: string): Buffer | undefined {
  if (s.length === 0 || s.length % 4 !== 0) return undefined;
  let padding = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x3d) padding++;
    else if (padding > 0 || !isBase64Char(c)) return undefined;
  }
  if (padding > 2) return undefined;
  const out = Buffer.from(s, 'base64');
  // Reject non-canonical encodings (stray bits in the last character).
  return out.toString('base64') === s ? out : undefined;
}
