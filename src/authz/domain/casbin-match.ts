/**
 * Casbin's matching functions as Directory's model uses them (`keyMatch` and `regexMatch`),
 * rewritten without regular expressions for the supported regex subset, so the importer can
 * tell where Casbin's meaning differs from Parley's exact matching.
 */

export const STAR = 0x2a;
const NEWLINE = 0x0a;
const REGEX_META = '^$+?()[]{}|\\';

export function find(s: string, c: number): number {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) === c) return i;
  return -1;
}

export function firstMeta(s: string): string | undefined {
  for (const c of s) for (const m of REGEX_META) if (c === m) return c;
  return undefined;
}

/** Casbin keyMatch(key, pattern): exact without `*`; else prefix up to the first `*`. */
export function keyMatch(key: string, pattern: string): boolean {
  const star = find(pattern, STAR);
  if (star < 0) return key === pattern;
  return key.length > star ? key.slice(0, star) === pattern.slice(0, star) : key === pattern.slice(0, star);
}

interface Piece {
  readonly test: (c: number) => boolean;
  readonly optional: boolean;
  readonly repeat: boolean;
}

interface SimpleRegex {
  readonly start: boolean;
  readonly end: boolean;
  readonly pieces: readonly Piece[];
}

const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;
const isWord = (c: number): boolean => isDigit(c) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f;
const isSpace = (c: number): boolean => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0c || c === 0x0d;
const CLASSES: Record<string, (c: number) => boolean> = {
  d: isDigit,
  w: isWord,
  s: isSpace,
  D: (c) => !isDigit(c),
  W: (c) => !isWord(c),
  S: (c) => !isSpace(c),
};

/** Compiles the supported regex subset (RE2/JS agree on it); undefined for anything else. */
export function compileSimpleRegex(p: string): SimpleRegex | undefined {
  const pieces: Piece[] = [];
  let i = 0;
  const start = p.charCodeAt(0) === 0x5e;
  if (start) i = 1;
  let end = false;
  while (i < p.length) {
    const c = p[i]!;
    let test: (x: number) => boolean;
    if (c === '$' && i === p.length - 1) {
      end = true;
      break;
    } else if (c === '.') {
      test = (x) => x !== NEWLINE;
    } else if (c === '\\') {
      const e = p[i + 1];
      if (e === undefined) return undefined;
      const cls = CLASSES[e];
      if (cls !== undefined) test = cls;
      else {
        // Escaped punctuation is literal in both RE2 and JavaScript; other escapes differ.
        const code = e.charCodeAt(0);
        if (code < 0x21 || code > 0x7e || isWord(code)) return undefined;
        test = (x) => x === code;
      }
      i++;
    } else if (firstMeta(c) !== undefined || c === '*') {
      return undefined;
    } else {
      const code = c.charCodeAt(0);
      test = (x) => x === code;
    }
    i++;
    let optional = false;
    let repeat = false;
    const quant = p[i];
    if (quant === '*' || quant === '+' || quant === '?') {
      optional = quant !== '+';
      repeat = quant !== '?';
      i++;
      if (p[i] === '?') i++; // lazy: same set of matches
      if (p[i] === '*' || p[i] === '+' || p[i] === '?') return undefined;
    }
    pieces.push({ test, optional, repeat });
  }
  return { start, end, pieces };
}

/** Does the (unanchored unless `^`/`$`) regex match anywhere in `text`? */
export function simpleRegexMatches(re: SimpleRegex, text: string): boolean {
  const n = text.length;
  let cur = new Uint8Array(n + 1);
  let next = new Uint8Array(n + 1);
  if (re.start) cur[0] = 1;
  else cur.fill(1);
  for (const piece of re.pieces) {
    next.fill(0);
    let any = false;
    for (let pos = 0; pos <= n; pos++) {
      if (cur[pos] === 0) continue;
      if (piece.optional) next[pos] = 1;
      for (let k = pos; k < n && piece.test(text.charCodeAt(k)); k++) {
        if (next[k + 1] === 1 && piece.repeat) break;
        next[k + 1] = 1;
        if (!piece.repeat) break;
      }
    }
    [cur, next] = [next, cur];
    for (let pos = 0; pos <= n && !any; pos++) any = cur[pos] === 1;
    if (!any) return false;
  }
  if (re.end) return cur[n] === 1;
  return true;
}

/** Casbin's `keyMatch(x, p) || regexMatch(x, p)`; undefined when the regex is outside the subset. */
export function casbinAdmits(x: string, pattern: string): boolean | undefined {
  if (keyMatch(x, pattern)) return true;
  const re = compileSimpleRegex(pattern);
  return re === undefined ? undefined : simpleRegexMatches(re, x);
}

// ---- CSV -------------------------------------------------------------------------------

