/**
 * IPv4/IPv6 addresses and CIDR blocks, parsed by hand (no regular expressions, no substring
 * search: src/authz rules). Addresses are kept as byte arrays; an IPv4-mapped IPv6 request
 * address (`::ffff:192.0.2.1`, what a dual-stack socket reports) is matched as IPv4.
 */

export interface Cidr {
  readonly family: 4 | 6;
  /** Network address, 4 or 16 bytes, host bits zero. */
  readonly bytes: Uint8Array;
  readonly prefix: number;
}

const DOT = 0x2e;
const COLON = 0x3a;
const SLASH = 0x2f;

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

/** Dotted-quad IPv4 without leading zeros (`010.0.0.1` is ambiguous and rejected). */
export function parseIpv4(s: string): Uint8Array | undefined {
  const out = new Uint8Array(4);
  let part = 0;
  let i = 0;
  const n = s.length;
  while (part < 4) {
    const start = i;
    let value = 0;
    while (i < n && isDigit(s.charCodeAt(i))) {
      value = value * 10 + (s.charCodeAt(i) - 0x30);
      i++;
      if (i - start > 3) return undefined;
    }
    const len = i - start;
    if (len === 0 || value > 255) return undefined;
    if (len > 1 && s.charCodeAt(start) === 0x30) return undefined;
    out[part++] = value;
    if (part < 4) {
      if (i >= n || s.charCodeAt(i) !== DOT) return undefined;
      i++;
    }
  }
  return i === n ? out : undefined;
}

/** RFC 4291 text form: hex groups, one `::`, optional trailing dotted IPv4. No zone IDs. */
export function parseIpv6(s: string): Uint8Array | undefined {
  const n = s.length;
  if (n < 2 || n > 45) return undefined;
  const groups: number[] = [];
  let gapAt = -1;
  let i = 0;
  if (s.charCodeAt(0) === COLON) {
    if (s.charCodeAt(1) !== COLON) return undefined;
    gapAt = 0;
    i = 2;
  }
  while (i < n) {
    // Read one group (or a trailing IPv4).
    const start = i;
    let value = 0;
    while (i < n && hexValue(s.charCodeAt(i)) >= 0) {
      value = value * 16 + hexValue(s.charCodeAt(i));
      i++;
    }
    if (i < n && s.charCodeAt(i) === DOT) {
      const v4 = parseIpv4(s.slice(start));
      if (v4 === undefined || groups.length > 6) return undefined;
      groups.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      break; // the IPv4 tail runs to the end of the string
    }
    const len = i - start;
    if (len === 0 || len > 4) return undefined;
    groups.push(value);
    if (groups.length > 8) return undefined;
    if (i === n) break;
    if (s.charCodeAt(i) !== COLON) return undefined;
    i++;
    if (i < n && s.charCodeAt(i) === COLON) {
      if (gapAt >= 0) return undefined;
      gapAt = groups.length;
      i++;
      if (i === n) break;
    } else if (i === n) {
      return undefined; // trailing single colon
    }
  }
  if (gapAt >= 0) {
    if (groups.length > 7) return undefined;
    const fill = new Array<number>(8 - groups.length).fill(0);
    groups.splice(gapAt, 0, ...fill);
  } else if (groups.length !== 8) {
    return undefined;
  }
  const out = new Uint8Array(16);
  for (let g = 0; g < 8; g++) {
    out[2 * g] = groups[g]! >> 8;
    out[2 * g + 1] = groups[g]! & 0xff;
  }
  return out;
}

/** Parses a request address; IPv4-mapped IPv6 becomes IPv4. */
export function parseIp(s: string): Uint8Array | undefined {
  if (typeof s !== 'string') return undefined;
  const v4 = parseIpv4(s);
  if (v4 !== undefined) return v4;
  const v6 = parseIpv6(s);
  if (v6 === undefined) return undefined;
  for (let k = 0; k < 10; k++) if (v6[k] !== 0) return v6;
  if (v6[10] === 0xff && v6[11] === 0xff) return v6.slice(12);
  return v6;
}

/**
 * Parses `address/prefix` (or a bare address = a single host). Host bits must be zero so a
 * typo like `10.1.2.3/8` is reported instead of silently widening.
 * Returns the block or the reason it is invalid.
 */
export function parseCidr(s: string): Cidr | string {
  if (typeof s !== 'string' || s.length === 0) return 'must be a non-empty string';
  let slash = -1;
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) === SLASH) {
      if (slash >= 0) return 'more than one "/"';
      slash = i;
    }
  }
  const addrText = slash < 0 ? s : s.slice(0, slash);
  let bytes = parseIpv4(addrText);
  let family: 4 | 6 = 4;
  if (bytes === undefined) {
    bytes = parseIpv6(addrText);
    family = 6;
  }
  if (bytes === undefined) return 'not an IPv4 or IPv6 address';
  const max = bytes.length * 8;
  let prefix = max;
  if (slash >= 0) {
    const p = s.slice(slash + 1);
    if (p.length === 0 || p.length > 3) return 'prefix length must be a decimal number';
    prefix = 0;
    for (let i = 0; i < p.length; i++) {
      const c = p.charCodeAt(i);
      if (!isDigit(c)) return 'prefix length must be a decimal number';
      prefix = prefix * 10 + (c - 0x30);
    }
    if (p.length > 1 && p.charCodeAt(0) === 0x30) return 'prefix length has a leading zero';
    if (prefix > max) return `prefix length exceeds ${max}`;
  }
  for (let bit = prefix; bit < max; bit++) {
    if ((bytes[bit >> 3]! >> (7 - (bit & 7))) & 1) return 'address has bits set beyond the prefix length';
  }
  return Object.freeze({ family, bytes, prefix });
}

/** True when `ip` (from `parseIp`) lies in `cidr`; families never match each other. */
export function cidrContains(cidr: Cidr, ip: Uint8Array): boolean {
  if (ip.length !== cidr.bytes.length) return false;
  const full = cidr.prefix >> 3;
  for (let k = 0; k < full; k++) if (ip[k] !== cidr.bytes[k]) return false;
  const rest = cidr.prefix & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (ip[full]! & mask) === cidr.bytes[full];
}
