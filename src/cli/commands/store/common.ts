/** Shared pieces of the store commands: the client, option parsers and error reporting. */
import type { Command } from 'commander';
import { ParleyError } from '../../../common';
import { StoreClient, storeChannelOptions, type WireRecord } from '../../../store/client';
import { openClientIdentity, withClientIdentityOptions, type ClientIdentityOptions } from '../../client-identity';
import { isServiceError, reportFailure } from '../../context';
import type { FailureContext } from '../../domain/explain-failure';

export { isServiceError };

/** Runs `fn` with a connected store client; closes everything afterwards; reports failures. */
export async function withStoreClient(opts: ClientIdentityOptions, fn: (client: StoreClient) => Promise<void>): Promise<void> {
  let conn: Awaited<ReturnType<typeof openClientIdentity>> | undefined;
  let client: StoreClient | undefined;
  try {
    conn = await openClientIdentity(opts);
    client = new StoreClient(conn.address, conn.credentials, { ...storeChannelOptions(), ...conn.channelOptions });
    await fn(client);
  } catch (err) {
    reportStoreFailure(err, conn?.context);
  } finally {
    client?.close();
    await conn?.close().catch(() => undefined);
  }
}

/** One line: "parley: NOT_FOUND: record bafk... does not exist", hint lines when the cause is known; non-zero exit code. */
export function reportStoreFailure(err: unknown, explain?: FailureContext): void {
  reportFailure(err, explain);
}

/** Commander collector for repeatable `k=v` options. */
export function collectAnnotation(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const at = value.indexOf('=');
  if (at <= 0) throw new ParleyError('invalid_argument', `--annotation: expected key=value, got "${value}"`);
  return { ...previous, [value.slice(0, at)]: value.slice(at + 1) };
}

/** A store command with the client identity options. */
export function storeCommand(parent: Command, name: string): Command {
  return withClientIdentityOptions(parent.command(name));
}

export function recordToJson(r: WireRecord): Record<string, unknown> {
  return {
    cid: r.cid,
    namespace: r.namespace,
    mediaType: r.media_type,
    size: Number(r.size),
    annotations: r.annotations ?? {},
    creatorSpiffeId: r.creator_spiffe_id,
    creatorTrustDomain: r.creator_trust_domain,
    createdAt: timestampIso(r.created_at),
  };
}

export function timestampIso(t: { seconds?: string | number; nanos?: number } | null | undefined): string | undefined {
  if (!t) return undefined;
  return new Date(Number(t.seconds ?? 0) * 1000 + Math.floor((t.nanos ?? 0) / 1e6)).toISOString();
}

/** Human form of a record, several lines. */
export function recordToText(r: WireRecord): string {
  const lines = [
    `cid:          ${r.cid}`,
    `namespace:    ${r.namespace}`,
    `media type:   ${r.media_type}`,
    `size:         ${Number(r.size)} bytes`,
    `creator:      ${r.creator_spiffe_id}`,
    `created at:   ${timestampIso(r.created_at) ?? ''}`,
  ];
  const ann = Object.entries(r.annotations ?? {}).sort(([a], [b]) => a.localeCompare(b));
  if (ann.length > 0) lines.push('annotations:', ...ann.map(([k, v]) => `  ${k}=${v}`));
  return `${lines.join('\n')}\n`;
}

export const IDENTITY_HELP = `
Identity: --identity DIR (what 'parley dev issue --out DIR' wrote: DIR/svid.pem, DIR/svid.key, DIR/bundle.pem;
default $PARLEY_IDENTITY), --svid/--key/--bundle to override single files, or --workload-api unix:///path
($SPIFFE_ENDPOINT_SOCKET when nothing is given). An expired SVID is refused before connecting.`;
