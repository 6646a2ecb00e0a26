/**
 * The registry's routes (OCI Distribution Spec v1.1 endpoints) and the Store method each one
 * is, which is what authorizes it: the same policy rules, grants, revocations, allowlists,
 * rate limits and audit as the gRPC call. Pure.
 */

const STORE = '/parley.store.v1.StoreService';
export const STORE_LOOKUP = `${STORE}/Lookup`;
export const STORE_PULL = `${STORE}/Pull`;
export const STORE_LIST = `${STORE}/List`;
export const STORE_PUSH = `${STORE}/Push`;
export const STORE_PULL_REFERRER = `${STORE}/PullReferrer`;
export const STORE_DELETE = `${STORE}/Delete`;
export const REQUEST_CREDENTIALS = '/parley.sync.v1.SyncService/RequestRegistryCredentials';

export type RouteKey =
  | 'base'
  | 'token'
  | 'manifest_get'
  | 'manifest_put'
  | 'manifest_delete'
  | 'blob_get'
  | 'blob_delete'
  | 'tags_list'
  | 'referrers'
  | 'upload_start'
  | 'upload_patch'
  | 'upload_put'
  | 'upload_status'
  | 'upload_cancel';

/** Each route's authorization rule: the gRPC method whose policy decides it (fail closed: every route has one). */
export const ROUTE_METHODS: Readonly<Record<RouteKey, string>> = Object.freeze({
  base: STORE_LOOKUP,
  token: REQUEST_CREDENTIALS,
  manifest_get: STORE_LOOKUP,
  manifest_put: STORE_PUSH,
  manifest_delete: STORE_DELETE,
  blob_get: STORE_PULL,
  blob_delete: STORE_DELETE,
  tags_list: STORE_LIST,
  referrers: STORE_PULL_REFERRER,
  upload_start: STORE_PUSH,
  upload_patch: STORE_PUSH,
  upload_put: STORE_PUSH,
  upload_status: STORE_PUSH,
  upload_cancel: STORE_PUSH,
});

/** The routes that write or delete (their challenges ask for push). */
export const PUSH_ROUTES: ReadonlySet<RouteKey> = new Set<RouteKey>(['manifest_put', 'manifest_delete', 'blob_delete', 'upload_start', 'upload_patch', 'upload_put', 'upload_status', 'upload_cancel']);

/** The routes whose refusal a grant could turn around (the standard token flow answers 401 with a challenge). */
export const GRANTABLE_ROUTES: ReadonlySet<RouteKey> = new Set<RouteKey>(['base', 'manifest_get', 'blob_get', 'tags_list', 'referrers']);

export interface Route {
  readonly key: RouteKey;
  /** The repository name (a Parley namespace; not yet validated). */
  readonly name?: string;
  /** Tag, digest or upload id, as in the path. */
  readonly ref?: string;
}

export type RouteMatch = { readonly ok: true; readonly route: Route } | { readonly ok: false; readonly status: 404 | 405 };

interface Pattern {
  readonly suffix: RegExp;
  readonly methods: Readonly<Record<string, RouteKey | undefined>>;
}

/** `/v2/<name>/<suffix>`: the name is what precedes the suffix (names may contain "/"). */
const PATTERNS: readonly Pattern[] = [
  { suffix: /^(.+)\/manifests\/([^/]+)$/, methods: { GET: 'manifest_get', HEAD: 'manifest_get', PUT: 'manifest_put', DELETE: 'manifest_delete' } },
  { suffix: /^(.+)\/blobs\/uploads\/?$/, methods: { POST: 'upload_start' } },
  { suffix: /^(.+)\/blobs\/uploads\/([^/]+)$/, methods: { PATCH: 'upload_patch', PUT: 'upload_put', GET: 'upload_status', DELETE: 'upload_cancel' } },
  { suffix: /^(.+)\/blobs\/([^/]+)$/, methods: { GET: 'blob_get', HEAD: 'blob_get', DELETE: 'blob_delete' } },
  { suffix: /^(.+)\/tags\/list$/, methods: { GET: 'tags_list' } },
  { suffix: /^(.+)\/referrers\/([^/]+)$/, methods: { GET: 'referrers' } },
];

const MAX_PATH = 2048;

/** The route of a request path (without its query), or why none: 404 unknown path, 405 known path with another method. */
export function matchRoute(method: string, path: string): RouteMatch {
  if (path.length > MAX_PATH) return { ok: false, status: 404 };
  if (path === '/token') return method === 'GET' ? { ok: true, route: { key: 'token' } } : { ok: false, status: 405 };
  if (path === '/v2/' || path === '/v2') return method === 'GET' || method === 'HEAD' ? { ok: true, route: { key: 'base' } } : { ok: false, status: 405 };
  if (!path.startsWith('/v2/')) return { ok: false, status: 404 };
  const rest = path.slice(4);
  for (const p of PATTERNS) {
    const m = p.suffix.exec(rest);
    if (m === null) continue;
    const key = p.methods[method];
    if (key === undefined) return { ok: false, status: 405 };
    return { ok: true, route: { key, name: m[1], ref: m[2] } };
  }
  return { ok: false, status: 404 };
}

/**
 * Fail closed at start: every route's method must be one the policy engine knows.
 * @returns the routes whose method is unknown (the gateway refuses to start when any is)
 */
export function routesWithoutRule(known: (method: string) => boolean, methods: Readonly<Record<string, string | undefined>> = ROUTE_METHODS): string[] {
  return Object.entries(methods)
    .filter(([, method]) => method === undefined || !known(method))
    .map(([key]) => key);
}
