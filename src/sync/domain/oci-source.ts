/**
 * A sync whose source is a repository of an OCI registry (instead of a partner gateway),
 * checked. Pure. The credentials are split off as the secret: the sync table keeps them
 * apart, and nothing that shows a sync (REST, gRPC, CLI, logs, errors) ever carries them.
 */
import type { FieldError } from '../../authz/domain';

export type OciAuth = 'anonymous' | 'basic' | 'bearer';

/** What is shown of an OCI source (no secret). */
export interface OciSourceSpec {
  readonly kind: 'oci';
  /** The registry's origin, `https://host:port` (or `http://` on loopback with `insecure`). */
  readonly url: string;
  readonly repository: string;
  /** Tags to copy; empty: every tag of the repository. */
  readonly tags: readonly string[];
  readonly auth: OciAuth;
  readonly username?: string;
  /** PEM of the CA(s) the registry's certificate must chain to (else the system's). */
  readonly caPem?: string;
  /** Plain HTTP: only on a loopback host, only when asked for. */
  readonly insecure: boolean;
}

/** The secret of an OCI source: the basic password or the bearer token. */
export type OciSecret = { readonly password: string } | { readonly token: string };

export interface OciSourceInput {
  readonly kind?: unknown;
  readonly url?: unknown;
  readonly repository?: unknown;
  readonly tags?: unknown;
  readonly credentials?: unknown;
  readonly ca?: unknown;
  readonly insecure?: unknown;
}

/** The OCI Distribution repository name grammar. */
const REPOSITORY = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
const MAX_TAGS = 1000;
const MAX_SECRET = 8192;
const MAX_CA = 256 * 1024;

/** Shown instead of a secret. */
export const MASKED = '***';

export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

type Add = (field: string, message: string) => void;

/** Checks an OCI source; field names are below `source.` (`source.url`, `source.credentials.basic.username`). */
export function checkOciSource(input: OciSourceInput): { spec?: OciSourceSpec; secret?: OciSecret; errors: FieldError[] } {
  const errors: FieldError[] = [];
  const add: Add = (field, message) => errors.push({ field, message });
  if (input.kind !== undefined && input.kind !== 'oci') add('source.kind', "must be 'oci'");
  const insecure = input.insecure === true;
  if (input.insecure !== undefined && typeof input.insecure !== 'boolean') add('source.insecure', 'must be true or false');
  const url = registryOrigin(input.url, insecure, add);
  const repository = typeof input.repository === 'string' ? input.repository : '';
  if (repository.length === 0 || repository.length > 255 || !REPOSITORY.test(repository)) add('source.repository', 'must be an OCI repository name (lowercase path components, e.g. models/llama)');
  const tags = tagList(input.tags, add);
  const creds = credentials(input.credentials, add);
  let caPem: string | undefined;
  if (input.ca !== undefined && input.ca !== '') {
    if (typeof input.ca !== 'string' || !input.ca.includes('-----BEGIN CERTIFICATE-----') || input.ca.length > MAX_CA) add('source.ca', 'must be PEM certificates');
    else caPem = input.ca;
  }
  if (insecure && caPem !== undefined) add('source.ca', 'a plain-HTTP (insecure) source has no certificate to check');
  if (errors.length > 0 || url === undefined) return { errors };
  const spec: OciSourceSpec = { kind: 'oci', url, repository, tags, auth: creds.auth, ...(creds.username === undefined ? {} : { username: creds.username }), ...(caPem === undefined ? {} : { caPem }), insecure };
  return { spec, errors, ...(creds.secret === undefined ? {} : { secret: creds.secret }) };
}

function registryOrigin(value: unknown, insecure: boolean, add: Add): string | undefined {
  if (typeof value !== 'string' || value === '') {
    add('source.url', 'must be the registry URL, https://host[:port]');
    return undefined;
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    add('source.url', 'must be the registry URL, https://host[:port]');
    return undefined;
  }
  if (url.username !== '' || url.password !== '') add('source.url', 'must not carry credentials (give them as source.credentials)');
  else if ((url.pathname !== '/' && url.pathname !== '') || url.search !== '' || url.hash !== '') add('source.url', 'must be the registry origin only (the repository is source.repository)');
  else if (url.protocol === 'http:') {
    if (!insecure) add('source.url', 'plain http needs source.insecure: true (loopback hosts only)');
    else if (!isLoopbackHost(url.hostname)) add('source.insecure', 'is refused for a non-loopback host: use https');
    else return url.origin;
  } else if (url.protocol !== 'https:') add('source.url', 'must be https:// (or http:// on loopback with source.insecure)');
  else if (insecure) add('source.insecure', 'applies to http:// URLs only');
  else return url.origin;
  return undefined;
}

function tagList(value: unknown, add: Add): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) {
    add('source.tags', 'must be an array of tags');
    return [];
  }
  if (value.length > MAX_TAGS) add('source.tags', `at most ${MAX_TAGS} tags`);
  const out: string[] = [];
  value.slice(0, MAX_TAGS).forEach((t, i) => {
    if (typeof t !== 'string' || !TAG.test(t)) add(`source.tags[${i}]`, 'must be an OCI tag ([A-Za-z0-9_][A-Za-z0-9._-]{0,127})');
    else if (!out.includes(t)) out.push(t);
  });
  return out;
}

function credentials(value: unknown, add: Add): { auth: OciAuth; username?: string; secret?: OciSecret } {
  if (value === undefined || value === null) return { auth: 'anonymous' };
  if (typeof value !== 'object' || Array.isArray(value)) {
    add('source.credentials', 'must be { basic: { username, password } } or { bearer: { token } }');
    return { auth: 'anonymous' };
  }
  const c = value as { basic?: unknown; bearer?: unknown };
  if (c.basic !== undefined && c.bearer !== undefined) {
    add('source.credentials', 'give basic or bearer, not both');
    return { auth: 'anonymous' };
  }
  if (c.basic !== undefined) {
    const b = (typeof c.basic === 'object' && c.basic !== null ? c.basic : {}) as { username?: unknown; password?: unknown };
    const username = typeof b.username === 'string' ? b.username : '';
    if (username === '' || username.length > 255 || username.includes(':') || [...username].some((ch) => ch.charCodeAt(0) < 0x20)) add('source.credentials.basic.username', 'must be a user name without ":" or control characters');
    if (typeof b.password !== 'string' || b.password === '' || b.password.length > MAX_SECRET) add('source.credentials.basic.password', 'is required (its value is never shown)');
    return { auth: 'basic', username, secret: { password: typeof b.password === 'string' ? b.password : '' } };
  }
  if (c.bearer !== undefined) {
    const t = (typeof c.bearer === 'object' && c.bearer !== null ? c.bearer : {}) as { token?: unknown };
    if (typeof t.token !== 'string' || t.token === '' || t.token.length > MAX_SECRET || /[\s]/.test(t.token)) add('source.credentials.bearer.token', 'is required, without whitespace (its value is never shown)');
    return { auth: 'bearer', secret: { token: typeof t.token === 'string' ? t.token : '' } };
  }
  add('source.credentials', 'must be { basic: { username, password } } or { bearer: { token } }');
  return { auth: 'anonymous' };
}

/** The source as shown (GET /v1/syncs, `parley sync show`): the secret is `***`, the CA only said to be there. */
export function shownOciSource(spec: OciSourceSpec): Record<string, unknown> {
  return {
    kind: 'oci',
    url: spec.url,
    repository: spec.repository,
    tags: [...spec.tags],
    auth: spec.auth,
    ...(spec.username === undefined ? {} : { username: spec.username }),
    ...(spec.auth === 'anonymous' ? {} : { secret: MASKED }),
    customCa: spec.caPem !== undefined,
    insecure: spec.insecure,
  };
}
