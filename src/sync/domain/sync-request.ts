/**
 * A CreateSync request (gRPC or /v1/syncs) checked into what the sync table stores, every
 * problem at once with field paths.
 */
import { SpiffeId, TrustDomain } from '../../spiffe';
import { ContentId } from '../../store/domain';
import { parseNamespace } from '../../store/domain';
import type { FieldError } from '../../authz/domain';
import { checkOciSource, type OciSecret, type OciSourceInput, type OciSourceSpec } from './oci-source';

export interface SyncRequestInput {
  readonly remoteAddress?: unknown;
  readonly remoteSpiffeId?: unknown;
  readonly remoteTrustDomain?: unknown;
  readonly namespaces?: unknown;
  readonly cids?: unknown;
  readonly annotations?: unknown;
  readonly continuous?: unknown;
  readonly intervalSeconds?: unknown;
  readonly targetNamespace?: unknown;
  /** An OCI registry repository as the source (instead of a partner gateway). */
  readonly source?: OciSourceInput | null;
}

export interface CheckedSyncRequest {
  readonly remoteAddress: string;
  readonly remoteSpiffeId: string;
  readonly selection: { readonly namespaces: string[]; readonly cids: string[]; readonly annotations: Record<string, string> };
  readonly continuous: boolean;
  readonly intervalMs?: number;
  readonly targetNamespace: string;
  /** Set for a sync from an OCI registry: then remoteAddress is the registry origin and remoteSpiffeId empty. */
  readonly source?: OciSourceSpec;
  readonly secret?: OciSecret;
}

export const MIN_INTERVAL_SECONDS = 10;
const MAX_INTERVAL_SECONDS = 7 * 86_400;
const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]{1,253}):([0-9]{1,5})$/;
const MAX_SELECTED = 1000;

/** The default SPIFFE ID of a partner's gateway. */
export const partnerGatewayId = (td: TrustDomain): SpiffeId => SpiffeId.parse(`spiffe://${td.name}/parley/gateway`);

export function checkSyncRequest(input: SyncRequestInput, ownTrustDomain: string): { value?: CheckedSyncRequest; errors: FieldError[] } {
  if (input.source !== undefined && input.source !== null) return checkOciSyncRequest(input, input.source);
  const errors: FieldError[] = [];
  const add = (field: string, message: string) => errors.push({ field, message });
  const address = typeof input.remoteAddress === 'string' ? input.remoteAddress : '';
  const port = HOST_PORT.exec(address)?.[2];
  if (port === undefined || Number(port) < 1 || Number(port) > 65535) add('remoteAddress', 'must be host:port');
  const remote = remoteId(input, add);
  if (remote !== undefined && remote.trustDomain.name === ownTrustDomain) add(input.remoteSpiffeId ? 'remoteSpiffeId' : 'remoteTrustDomain', `names the gateway's own trust domain ${ownTrustDomain}: a sync copies from a partner`);
  const namespaces = stringList(input.namespaces, 'namespaces', add, (s, f) => parseNamespace(s, f));
  const cids = stringList(input.cids, 'cids', add, (s) => ContentId.parse(s).toString());
  const annotations = annotationSelector(input.annotations, add);
  const continuous = input.continuous === true;
  let intervalMs: number | undefined;
  if (continuous) {
    const seconds = input.intervalSeconds;
    if (!Number.isInteger(seconds) || (seconds as number) < MIN_INTERVAL_SECONDS || (seconds as number) > MAX_INTERVAL_SECONDS) {
      add('intervalSeconds', `a continuous sync needs an interval of ${MIN_INTERVAL_SECONDS} to ${MAX_INTERVAL_SECONDS} seconds`);
    } else intervalMs = (seconds as number) * 1000;
  } else if (input.intervalSeconds !== undefined && input.intervalSeconds !== 0) add('intervalSeconds', 'only a continuous sync has an interval');
  let target = '';
  if (remote !== undefined) target = typeof input.targetNamespace === 'string' && input.targetNamespace !== '' ? input.targetNamespace : `partners/${remote.trustDomain.name}`;
  if (target !== '') fieldCheck(() => parseNamespace(target, 'targetNamespace'), 'targetNamespace', add);
  if (errors.length > 0 || remote === undefined) return { errors };
  return {
    errors,
    value: { remoteAddress: address, remoteSpiffeId: remote.toString(), selection: { namespaces, cids, annotations }, continuous, ...(intervalMs === undefined ? {} : { intervalMs }), targetNamespace: target },
  };
}

/** A sync from an OCI repository: no partner fields, no record selection (tags select); target default `mirrors/<repository>`. */
function checkOciSyncRequest(input: SyncRequestInput, source: OciSourceInput): { value?: CheckedSyncRequest; errors: FieldError[] } {
  const { spec, secret, errors } = typeof source === 'object' ? checkOciSource(source) : { errors: [{ field: 'source', message: 'must be an object' }] };
  const add = (field: string, message: string) => errors.push({ field, message });
  for (const field of ['remoteAddress', 'remoteSpiffeId', 'remoteTrustDomain'] as const) if (input[field] !== undefined && input[field] !== '') add(field, 'a sync from an OCI source has no partner gateway');
  for (const field of ['namespaces', 'cids'] as const) if (Array.isArray(input[field]) && input[field].length > 0) add(field, 'a sync from an OCI source selects by source.tags');
  if (typeof input.annotations === 'object' && input.annotations !== null && Object.keys(input.annotations).length > 0) add('annotations', 'a sync from an OCI source selects by source.tags');
  const continuous = input.continuous === true;
  const seconds = input.intervalSeconds;
  if (continuous && (!Number.isInteger(seconds) || (seconds as number) < MIN_INTERVAL_SECONDS || (seconds as number) > MAX_INTERVAL_SECONDS)) add('intervalSeconds', `a continuous sync needs an interval of ${MIN_INTERVAL_SECONDS} to ${MAX_INTERVAL_SECONDS} seconds`);
  if (!continuous && seconds !== undefined && seconds !== 0) add('intervalSeconds', 'only a continuous sync has an interval');
  const target = typeof input.targetNamespace === 'string' && input.targetNamespace !== '' ? input.targetNamespace : spec === undefined ? '' : `mirrors/${spec.repository}`;
  if (target !== '') fieldCheck(() => parseNamespace(target, 'targetNamespace'), 'targetNamespace', add);
  if (errors.length > 0 || spec === undefined) return { errors };
  const value: CheckedSyncRequest = {
    remoteAddress: spec.url,
    remoteSpiffeId: '',
    selection: { namespaces: [], cids: [], annotations: {} },
    continuous,
    ...(continuous ? { intervalMs: (seconds as number) * 1000 } : {}),
    targetNamespace: target,
    source: spec,
    ...(secret === undefined ? {} : { secret }),
  };
  return { errors, value };
}

function remoteId(input: SyncRequestInput, add: (field: string, message: string) => void): SpiffeId | undefined {
  if (typeof input.remoteSpiffeId === 'string' && input.remoteSpiffeId !== '') {
    const id = SpiffeId.tryParse(input.remoteSpiffeId);
    if (id === undefined || id.path === '') add('remoteSpiffeId', 'must be a SPIFFE ID with a path');
    return id?.path === '' ? undefined : id;
  }
  if (typeof input.remoteTrustDomain === 'string' && input.remoteTrustDomain !== '') {
    try {
      return partnerGatewayId(TrustDomain.parse(input.remoteTrustDomain));
    } catch (err) {
      add('remoteTrustDomain', (err as Error).message);
      return undefined;
    }
  }
  add('remoteSpiffeId', 'give the partner gateway\'s SPIFFE ID, or its trust domain (remoteTrustDomain)');
  return undefined;
}

function stringList<T>(value: unknown, field: string, add: (field: string, message: string) => void, parse: (s: string, field: string) => T): T[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) {
    add(field, 'must be an array of strings');
    return [];
  }
  if (value.length > MAX_SELECTED) add(field, `at most ${MAX_SELECTED} entries`);
  const out: T[] = [];
  value.slice(0, MAX_SELECTED).forEach((v, i) => {
    if (typeof v !== 'string') return add(`${field}[${i}]`, 'must be a string');
    fieldCheck(() => out.push(parse(v, `${field}[${i}]`)), `${field}[${i}]`, add);
  });
  return out;
}

function annotationSelector(value: unknown, add: (field: string, message: string) => void): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    add('annotations', 'must be an object of string values');
    return {};
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') add(`annotations.${k}`, 'must be a string');
    else out[k] = v;
  }
  return out;
}

function fieldCheck(check: () => unknown, field: string, add: (field: string, message: string) => void): void {
  try {
    check();
  } catch (err) {
    add(field, (err as Error).message.replace(`${field}: `, ''));
  }
}
