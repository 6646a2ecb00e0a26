/**
 * A CreateSync request (gRPC or /v1/syncs) checked into what the sync table stores, every
 * problem at once with field paths.
 */
import { SpiffeId, TrustDomain } from '../../spiffe';
import { ContentId } from '../../store/domain';
import { parseNamespace } from '../../store/domain';
import type { FieldError } from '../../authz/domain';

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
}

export interface CheckedSyncRequest {
  readonly remoteAddress: string;
  readonly remoteSpiffeId: string;
  readonly selection: { readonly namespaces: string[]; readonly cids: string[]; readonly annotations: Record<string, string> };
  readonly continuous: boolean;
  readonly intervalMs?: number;
  readonly targetNamespace: string;
}

export const MIN_INTERVAL_SECONDS = 10;
const MAX_INTERVAL_SECONDS = 7 * 86_400;
const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]{1,253}):([0-9]{1,5})$/;
const MAX_SELECTED = 1000;

/** The default SPIFFE ID of a partner's gateway. */
export const partnerGatewayId = (td: TrustDomain): SpiffeId => SpiffeId.parse(`spiffe://${td.name}/parley/gateway`);

export function checkSyncRequest(input: SyncRequestInput, ownTrustDomain: string): { value?: CheckedSyncRequest; errors: FieldError[] } {
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
