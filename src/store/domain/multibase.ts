/**
 * The few multibase encodings CIDs come in (https://github.com/multiformats/multibase):
 * base32 lowercase without padding (prefix "b", the CIDv1 default), its uppercase form
 * ("B"), base58btc ("z") and base36 ("k"/"K"). Encoding is base32 only: the canonical form.
 * Written here rather than imported because the store's domain stays dependency-free.
 */
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';
const BASE58BTC = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
const BASE36 = '0123456789abcdefghijklmnopqrstuvwxyz';

const BASE32_INDEX = indexOf(BASE32);
const BASE58_INDEX = indexOf(BASE58BTC);
const BASE36_INDEX = indexOf(BASE36);

function indexOf(alphabet: string): Int8Array {
  const index = new Int8Array(128).fill(-1);
  for (let i = 0; i < alphabet.length; i++) index[alphabet.charCodeAt(i)] = i;
  return index;
}

/** "b" + RFC 4648 base32, lowercase, no padding. */
export function encodeBase32Multibase(bytes: Uint8Array): string {
  let out = 'b';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits > 0) out += BASE32[(buffer << (5 - bits)) & 31];
  return out;
}

/** Decodes a multibase string; undefined when the prefix is unsupported or a character is invalid. */
export function decodeMultibase(text: string): Uint8Array | undefined {
  const prefix = text[0];
  const body = text.slice(1);
  if (body.length === 0) return undefined;
  switch (prefix) {
    case 'b':
      return decodeBase32(body);
    case 'B':
      return body === body.toUpperCase() ? decodeBase32(body.toLowerCase()) : undefined;
    case 'z':
      return decodeBigBase(body, BASE58_INDEX, 58n, BASE58BTC[0]);
    case 'k':
      return decodeBigBase(body, BASE36_INDEX, 36n, BASE36[0]);
    case 'K':
      return body === body.toUpperCase() ? decodeBigBase(body.toLowerCase(), BASE36_INDEX, 36n, BASE36[0]) : undefined;
    default:
      return undefined;
  }
}

function decodeBase32(body: string): Uint8Array | undefined {
  const out: number[] = [];
  let buffer = 0;
  let bits = 0;
  for (let i = 0; i < body.length; i++) {
    const code = body.charCodeAt(i);
    const v = code < 128 ? BASE32_INDEX[code] : -1;
    if (v < 0) return undefined;
    buffer = ((buffer << 5) | v) & 0xfff;
    bits += 5;
    if (bits >= 8) {
      out.push((buffer >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  // Leftover bits must be padding zeros, fewer than 5 of them (canonical encoding).
  if (bits >= 5 || (buffer & ((1 << bits) - 1)) !== 0) return undefined;
  return Uint8Array.from(out);
}

/** Base-N decoding through BigInt (short inputs only: callers bound the length). */
function decodeBigBase(body: string, index: Int8Array, base: bigint, zeroChar: string): Uint8Array | undefined {
  let zeros = 0;
  while (zeros < body.length && body[zeros] === zeroChar) zeros++;
  let n = 0n;
  for (let i = 0; i < body.length; i++) {
    const code = body.charCodeAt(i);
    const v = code < 128 ? index[code] : -1;
    if (v < 0) return undefined;
    n = n * base + BigInt(v);
  }
  const hex = n === 0n ? '' : n.toString(16);
  const digits = Buffer.from(hex.length % 2 === 0 ? hex : `0${hex}`, 'hex');
  return Uint8Array.from([...new Array<number>(zeros).fill(0), ...digits]);
}
