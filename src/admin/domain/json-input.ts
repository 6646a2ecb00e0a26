/**
 * Checks of untrusted admin input made before any controller sees it (pure). JSON nesting
 * is measured on the text, before JSON.parse, so a deep document never reaches recursive
 * code; text is checked for what PostgreSQL cannot hold (NUL, unpaired UTF-16 surrogates).
 */

export interface InputProblem {
  /** Where: `body`, `body.rules[0].id`, a query parameter name, or `path`. */
  readonly field: string;
  readonly message: string;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;

/** Whether the JSON text nests objects and arrays deeper than `maxDepth` (strings are skipped). */
export function jsonNestingExceeds(text: string, maxDepth: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) {
      inString = true;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > maxDepth) return true;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      depth--;
    }
  }
  return false;
}

/** Why a text cannot be stored as is (NUL, unpaired surrogate), or undefined. */
export function textProblem(s: string): string | undefined {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0) return 'must not contain NUL characters';
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = s.charCodeAt(i + 1);
      if (!(next >= 0xdc00 && next <= 0xdfff)) return 'must not contain unpaired UTF-16 surrogates';
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) {
      return 'must not contain unpaired UTF-16 surrogates';
    }
  }
  return undefined;
}

/** At most this many problems are listed (the rest are summed up in one more entry). */
export const MAX_LISTED_PROBLEMS = 20;

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

function childPath(parent: string, key: string | number): string {
  if (typeof key === 'number') return `${parent}[${key}]`;
  return IDENTIFIER.test(key) ? `${parent}.${key}` : `${parent}[${JSON.stringify(key.slice(0, 64)).replace(/[^\x20-\x7e]/g, '?')}]`;
}

/**
 * Every string (object keys too) in a parsed JSON value that `textProblem` refuses, with
 * its path from `root`. Iterative (the depth is bounded before parsing, but no recursion
 * is needed either).
 */
export function jsonTextProblems(value: unknown, root = 'body'): InputProblem[] {
  const out: InputProblem[] = [];
  let more = 0;
  const report = (field: string, message: string) => {
    if (out.length < MAX_LISTED_PROBLEMS) out.push({ field, message });
    else more++;
  };
  const stack: Array<{ path: string; value: unknown }> = [{ path: root, value }];
  while (stack.length > 0) {
    const { path, value: v } = stack.pop()!;
    if (typeof v === 'string') {
      const why = textProblem(v);
      if (why !== undefined) report(path, why);
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ path: childPath(path, i), value: v[i] });
    } else if (typeof v === 'object' && v !== null) {
      const entries = Object.entries(v as Record<string, unknown>);
      for (let i = entries.length - 1; i >= 0; i--) {
        const [key, child] = entries[i]!;
        const keyWhy = textProblem(key);
        if (keyWhy !== undefined) report(childPath(path, key), `key ${keyWhy}`);
        else stack.push({ path: childPath(path, key), value: child });
      }
    }
  }
  if (more > 0) out.push({ field: root, message: `${more} more problems not listed` });
  return out;
}

/** Problems of query parameters (strings or arrays of strings): the field is the parameter name. */
export function queryTextProblems(query: Record<string, unknown>): InputProblem[] {
  const out: InputProblem[] = [];
  for (const [name, value] of Object.entries(query)) {
    const nameWhy = textProblem(name);
    const field = nameWhy === undefined ? name : 'query';
    if (nameWhy !== undefined) {
      out.push({ field, message: `a parameter name ${nameWhy}` });
      continue;
    }
    const problems = jsonTextProblems(value, field);
    if (problems.length > 0) out.push({ field, message: problems[0]!.message });
    if (out.length >= MAX_LISTED_PROBLEMS) break;
  }
  return out;
}

/** Why a raw request path is not acceptable text (malformed percent-encoding, invalid UTF-8, NUL), or undefined. */
export function pathProblem(rawPath: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(rawPath);
  } catch {
    return 'must be percent-encoded UTF-8';
  }
  return textProblem(decoded);
}

/** The position JSON.parse names in its message (V8 quotes input there, which must not be echoed). */
export function jsonErrorPosition(message: string): number | undefined {
  const match = / in JSON at position (\d{1,12})(?: |$)/.exec(message);
  return match === null ? undefined : Number(match[1]);
}
