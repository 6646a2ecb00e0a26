/** `parley sync create|list|show|rm`: syncs of this gateway, over gRPC with a workload identity (like push and pull). */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { ParleyError } from '../../common';
import { MASKED, SyncClient, dateOf, type WireCreateSyncRequest, type WireSync } from '../../sync/client';
import { openClientIdentity, withClientIdentityOptions, type ClientIdentityOptions } from '../client-identity';
import { formatBytes } from '../progress';
import { collectAnnotation, IDENTITY_HELP, reportStoreFailure } from './store/common';

const TERMINAL = new Set(['SYNC_STATUS_COMPLETED', 'SYNC_STATUS_FAILED', 'SYNC_STATUS_DELETED']);
const WATCH_POLL_MS = 1000;

async function withSyncClient(opts: ClientIdentityOptions, fn: (client: SyncClient) => Promise<void>): Promise<void> {
  let conn: Awaited<ReturnType<typeof openClientIdentity>> | undefined;
  let client: SyncClient | undefined;
  try {
    conn = await openClientIdentity(opts);
    client = new SyncClient(conn.address, conn.credentials, conn.channelOptions);
    await fn(client);
  } catch (err) {
    reportStoreFailure(err, conn?.context);
  } finally {
    client?.close();
    await conn?.close().catch(() => undefined);
  }
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

function seconds(value: string): number {
  const m = /^(\d+)(s|m|h)?$/.exec(value.trim());
  if (!m) throw new ParleyError('invalid_argument', `--interval: expected seconds or a duration such as 90s, 5m, 1h, got "${value}"`);
  return Number(m[1]) * { s: 1, m: 60, h: 3600 }[(m[2] ?? 's') as 's' | 'm' | 'h'];
}

/** A sync as JSON: the wire shape with numbers and times people can read. */
export function syncToJson(s: WireSync): Record<string, unknown> {
  const iso = (t: WireSync['created_at']) => dateOf(t)?.toISOString();
  return {
    syncId: s.sync_id,
    status: s.status.replace('SYNC_STATUS_', ''),
    failureReason: s.failure_reason.replace('FAILURE_REASON_', ''),
    message: s.message,
    remoteAddress: s.remote_address,
    remoteSpiffeId: s.remote_spiffe_id,
    selection: s.selection,
    continuous: s.continuous,
    intervalSeconds: s.interval_seconds,
    targetNamespace: s.target_namespace,
    counters: Object.fromEntries(Object.entries(s.counters).map(([k, v]) => [k, Number(v)])),
    attempt: s.attempt,
    nextAttemptAt: iso(s.next_attempt_at),
    createdAt: iso(s.created_at),
    updatedAt: iso(s.updated_at),
    lastSuccessAt: iso(s.last_success_at),
    createdBy: s.created_by,
    ...(s.oci_source ? { source: ociSourceJson(s.oci_source) } : {}),
  };
}

/** An OCI source as shown: its credential is `***`, never echoed. */
function ociSourceJson(o: NonNullable<WireSync['oci_source']>): Record<string, unknown> {
  return { kind: 'oci', url: o.url, repository: o.repository, tags: o.tags, auth: o.auth, ...(o.username ? { username: o.username } : {}), ...(o.auth === 'anonymous' ? {} : { secret: MASKED }), customCa: o.custom_ca, insecure: o.insecure };
}

export function syncToText(s: WireSync): string {
  const j = syncToJson(s) as ReturnType<typeof syncToJson> & { counters: Record<string, number> };
  const c = j.counters;
  const reason = j.failureReason === 'UNSPECIFIED' ? '' : ` (${String(j.failureReason)})`;
  return [
    `sync:         ${s.sync_id}`,
    `status:       ${String(j.status)}${reason}${s.message ? `: ${s.message}` : ''}`,
    s.oci_source
      ? `source:       ${s.oci_source.url}/${s.oci_source.repository}${s.oci_source.tags.length > 0 ? ` tags ${s.oci_source.tags.join(', ')}` : ''} (${s.oci_source.auth}${s.oci_source.username ? ` as ${s.oci_source.username}` : ''}${s.oci_source.auth === 'anonymous' ? '' : `, secret ${MASKED}`})`
      : `partner:      ${s.remote_spiffe_id} at ${s.remote_address}`,
    `into:         ${s.target_namespace}${s.continuous ? `, every ${s.interval_seconds}s` : ''}`,
    `records:      ${c.transferred} copied, ${c.skipped} already held, ${c.failed} failed of ${c.discovered} found (${formatBytes(c.bytes)})`,
    ...(s.attempt > 0 ? [`attempt:      ${s.attempt}, next at ${String(j.nextAttemptAt ?? '')}`] : []),
    `created:      ${String(j.createdAt ?? '')} by ${s.created_by}`,
    ...(j.lastSuccessAt ? [`last success: ${String(j.lastSuccessAt)}`] : []),
  ].join('\n');
}

export function registerSyncCommands(program: Command): void {
  const sync = program.command('sync').description("replicate records from a partner's gateway (what it exports to us)");
  withClientIdentityOptions(sync.command('create'))
    .description('start a sync from a partner gateway or from an OCI registry repository; prints the new sync')
    .option('--from <host:port>', "the partner gateway's gRPC address")
    .option('--from-oci <url/repository>', 'or a repository of an OCI registry, e.g. https://registry.example:5000/models/llama')
    .option('--partner-trust-domain <td>', "the partner's trust domain (its gateway is spiffe://<td>/parley/gateway)")
    .option('--partner-id <spiffe-id>', "the partner gateway's exact SPIFFE ID (the connection is pinned to it)")
    .option('--namespace <ns>', 'copy records of this namespace and below (repeatable; default: all exported to us)', collect)
    .option('--cid <cid>', 'copy exactly this record (repeatable)', collect)
    .option('--annotation <key=value>', 'copy records carrying this annotation (repeatable; all must match)', collectAnnotation)
    .option('--tag <tag>', 'with --from-oci: copy this tag (repeatable; default: every tag)', collect)
    .option('--username <user>', 'with --from-oci: basic credentials, with --password-file')
    .option('--password-file <file>', 'with --from-oci: the password (kept as a secret by the gateway, never shown)')
    .option('--token-file <file>', 'with --from-oci: a bearer token instead (kept as a secret, never shown)')
    .option('--ca <file>', "with --from-oci: PEM of the CA the registry's certificate must chain to")
    .option('--insecure', 'with --from-oci: plain http (a registry on a loopback address only)')
    .option('--continuous', 'keep syncing: run again every --interval')
    .option('--interval <duration>', 'with --continuous: time between runs (at least 10s)', seconds)
    .option('--into <namespace>', 'where the records land here (default partners/<partner trust domain>; for --from-oci mirrors/<repository>)')
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      `\nExamples:\n  $ parley sync create --from partner.example:8443 --partner-trust-domain partner.example --namespace ml/shared\n  $ parley sync create --from 10.0.0.5:8443 --partner-id spiffe://partner.example/parley/gateway --continuous --interval 5m --json\n  $ parley sync create --from-oci https://registry.example:5000/models/llama --tag v1 --username reader --password-file ./registry.pass --ca ./registry-ca.pem --into ml/llama\n${IDENTITY_HELP}`,
    )
    .action(async (opts: CreateOptions) => {
      await withSyncClient(opts, async (client) => {
        const created = await client.createSync(createRequest(opts));
        process.stdout.write(opts.json ? `${JSON.stringify(syncToJson(created), null, 2)}\n` : `${syncToText(created)}\n(follow it with: parley sync show ${created.sync_id} --watch)\n`);
      });
    });

  withClientIdentityOptions(sync.command('list'))
    .description('list syncs, newest first')
    .option('--json', 'print a JSON array')
    .addHelpText('after', IDENTITY_HELP)
    .action(async (opts: ClientIdentityOptions & { json?: boolean }) => {
      await withSyncClient(opts, async (client) => {
        const all: WireSync[] = [];
        let token = '';
        do {
          const page = await client.listSyncs(500, token);
          all.push(...page.syncs);
          token = page.next_page_token;
        } while (token !== '');
        if (opts.json) process.stdout.write(`${JSON.stringify(all.map(syncToJson), null, 2)}\n`);
        else for (const s of all) process.stdout.write(`${s.sync_id}  ${s.status.replace('SYNC_STATUS_', '').padEnd(14)} ${s.remote_spiffe_id} -> ${s.target_namespace}\n`);
      });
    });

  withClientIdentityOptions(sync.command('show'))
    .description('show a sync: status, failure reason, counters')
    .argument('<sync-id>')
    .option('--watch', 'follow it until it completes, fails or is deleted (one line of progress a second)')
    .option('--json', 'print JSON (with --watch: one JSON object per line)')
    .addHelpText('after', IDENTITY_HELP)
    .action(async (id: string, opts: ClientIdentityOptions & { watch?: boolean; json?: boolean }) => {
      await withSyncClient(opts, async (client) => {
        for (;;) {
          const s = await client.getSync(id);
          if (opts.json) process.stdout.write(`${JSON.stringify(syncToJson(s), null, opts.watch ? undefined : 2)}\n`);
          else process.stdout.write(`${opts.watch ? progressLine(s) : syncToText(s)}\n`);
          if (!opts.watch || TERMINAL.has(s.status)) {
            if (s.status === 'SYNC_STATUS_FAILED') process.exitCode = 1;
            return;
          }
          await new Promise((r) => setTimeout(r, WATCH_POLL_MS));
        }
      });
    });

  withClientIdentityOptions(sync.command('rm'))
    .description('delete a sync in any state (a running one stops at the next record; copied records stay)')
    .argument('<sync-id>')
    .addHelpText('after', IDENTITY_HELP)
    .action(async (id: string, opts: ClientIdentityOptions) => {
      await withSyncClient(opts, async (client) => {
        await client.deleteSync(id);
        process.stdout.write(`deleted sync ${id}\n`);
      });
    });
}

type CreateOptions = ClientIdentityOptions & {
  from?: string;
  fromOci?: string;
  partnerTrustDomain?: string;
  partnerId?: string;
  namespace?: string[];
  cid?: string[];
  annotation?: Record<string, string>;
  tag?: string[];
  username?: string;
  passwordFile?: string;
  tokenFile?: string;
  ca?: string;
  insecure?: boolean;
  continuous?: boolean;
  interval?: number;
  into?: string;
  json?: boolean;
};

/** The CreateSync request of the flags; files (password, token, CA) are read here and sent over the mTLS channel. */
function createRequest(opts: CreateOptions): WireCreateSyncRequest {
  if ((opts.from === undefined) === (opts.fromOci === undefined)) usage('give --from <host:port> (a partner gateway) or --from-oci <url/repository>');
  const common = { continuous: opts.continuous === true, interval_seconds: opts.interval ?? 0, target_namespace: opts.into ?? '' };
  if (opts.from !== undefined) {
    if (opts.tag || opts.username || opts.passwordFile || opts.tokenFile || opts.ca || opts.insecure) usage('--tag, --username, --password-file, --token-file, --ca and --insecure go with --from-oci');
    return { ...common, remote_address: opts.from, remote_spiffe_id: opts.partnerId ?? '', remote_trust_domain: opts.partnerTrustDomain ?? '', selection: { namespaces: opts.namespace ?? [], cids: opts.cid ?? [], annotations: opts.annotation ?? {} } };
  }
  if (opts.partnerId || opts.partnerTrustDomain || opts.namespace || opts.cid || opts.annotation) usage('--partner-*, --namespace, --cid and --annotation go with --from (an OCI source selects by --tag)');
  if (opts.passwordFile !== undefined && opts.username === undefined) usage('--password-file needs --username');
  if (opts.passwordFile !== undefined && opts.tokenFile !== undefined) usage('give --password-file or --token-file, not both');
  const m = /^(https?:\/\/[^/]+)\/(.+)$/.exec(opts.fromOci!);
  if (m === null) usage(`--from-oci: expected https://host[:port]/repository, got "${opts.fromOci!.slice(0, 200)}"`);
  return {
    ...common,
    oci_source: {
      url: m[1],
      repository: m[2].replace(/\/+$/, ''),
      tags: opts.tag ?? [],
      username: opts.username ?? '',
      password: opts.passwordFile === undefined ? '' : readSecretFile(opts.passwordFile, '--password-file'),
      token: opts.tokenFile === undefined ? '' : readSecretFile(opts.tokenFile, '--token-file'),
      ca_pem: opts.ca === undefined ? '' : readSecretFile(opts.ca, '--ca'),
      insecure: opts.insecure === true,
    },
  };
}

function usage(message: string): never {
  throw new ParleyError('invalid_argument', message);
}

function readSecretFile(path: string, flag: string): string {
  try {
    return readFileSync(path, 'utf8').replace(/\r?\n$/, '');
  } catch (err) {
    throw new ParleyError('invalid_argument', `${flag}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

function progressLine(s: WireSync): string {
  const c = s.counters;
  const reason = s.failure_reason === 'FAILURE_REASON_UNSPECIFIED' ? '' : ` ${s.failure_reason.replace('FAILURE_REASON_', '')}`;
  return `${s.status.replace('SYNC_STATUS_', '')}${reason}: ${c.transferred} copied, ${c.skipped} held, ${c.failed} failed of ${c.discovered} (${formatBytes(Number(c.bytes))})${s.message ? ` — ${s.message}` : ''}`;
}
