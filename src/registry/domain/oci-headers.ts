/**
 * The HTTP headers an OCI Distribution client reads. Pure.
 *
 * - `WWW-Authenticate` (RFC 7235 challenges; the registry token flow's
 *   `Bearer realm="…",service="…",scope="…"`);
 * - `Link` of a paged tag list (`<…?n=100&last=x>; rel="next"`).
 */

export interface AuthChallenge {
  /** Lowercased: `bearer`, `basic`. */
  readonly scheme: string;
  /** Parameter names lowercased, values unquoted. */
  readonly params: Readonly<Record<string, string>>;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+/;

/** Every challenge of a WWW-Authenticate value; parameters that do not parse end their challenge. */
export function parseWwwAuthenticate(header: string | undefined): AuthChallenge[] {
  const out: AuthChallenge[] = [];
  let rest = (header ?? '').trim();
  let current: { scheme: string; params: Record<string, string> } | undefined;
  while (rest.length > 0) {
    rest = rest.replace(/^[\s,]+/, '');
    const name = TOKEN.exec(rest)?.[0];
    if (name === undefined) break;
    const after = rest.slice(name.length).replace(/^\s+/, '');
    if (after.startsWith('=') && current !== undefined) {
      const parsed = paramValue(after.slice(1).replace(/^\s+/, ''));
      if (parsed === undefined) break;
      current.params[name.toLowerCase()] = parsed.value;
      rest = parsed.rest;
      continue;
    }
    current = { scheme: name.toLowerCase(), params: {} };
    out.push(current);
    rest = after;
  }
  return out;
}

function paramValue(text: string): { value: string; rest: string } | undefined {
  if (!text.startsWith('"')) {
    const token = TOKEN.exec(text)?.[0];
    return token === undefined ? undefined : { value: token, rest: text.slice(token.length) };
  }
  let value = '';
  for (let i = 1; i < text.length; i++) {
    const c = text[i];
    if (c === '\\' && i + 1 < text.length) value += text[++i];
    else if (c === '"') return { value, rest: text.slice(i + 1) };
    else value += c;
  }
  return undefined;
}

/** The bearer challenge with a realm, if the registry sent one. */
export function bearerChallenge(header: string | undefined): { realm: string; service?: string; scope?: string } | undefined {
  const c = parseWwwAuthenticate(header).find((x) => x.scheme === 'bearer' && typeof x.params.realm === 'string' && x.params.realm !== '');
  if (c === undefined) return undefined;
  return { realm: c.params.realm, ...(c.params.service === undefined ? {} : { service: c.params.service }), ...(c.params.scope === undefined ? {} : { scope: c.params.scope }) };
}

/**
 * The `rel="next"` target of a Link header, resolved against `base` (a path-only link is
 * on the registry itself). Undefined when there is no next page, or it points to another origin.
 */
export function nextLink(header: string | undefined, base: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(/,(?=\s*<)/)) {
    const m = /^\s*<([^>]*)>\s*(.*)$/.exec(part);
    if (m === null) continue;
    const rels = /(?:^|;)\s*rel\s*=\s*"?([^";]+)"?/i.exec(m[2])?.[1]?.toLowerCase().split(/\s+/) ?? [];
    if (!rels.includes('next')) continue;
    let url: URL;
    try {
      url = new URL(m[1], base);
    } catch {
      return undefined;
    }
    return url.origin === new URL(base).origin ? `${url.pathname}${url.search}` : undefined;
  }
  return undefined;
}
