/** lookup, list and delete. */
import type { Command } from 'commander';
import { ParleyError } from '../../../common';
import type { WireListRequest, WireRecord } from '../../../store/client';
import type { ClientIdentityOptions } from '../../client-identity';
import { collectAnnotation, IDENTITY_HELP, recordToJson, recordToText, storeCommand, withStoreClient } from './common';

const MAX_PAGE = 1000;

function positiveInt(flag: string) {
  return (value: string): number => {
    if (!/^\d+$/.test(value) || Number(value) < 1) throw new ParleyError('invalid_argument', `${flag}: expected a positive integer, got "${value}"`);
    return Number(value);
  };
}

function isoTime(value: string): Date {
  const d = new Date(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(d.getTime())) throw new ParleyError('invalid_argument', `--created-after: expected an ISO 8601 time such as 2025-01-31T12:00:00Z, got "${value}"`);
  return d;
}

export function registerQueries(program: Command): void {
  storeCommand(program, 'lookup')
    .description('show the metadata of records')
    .argument('<cid...>', 'CIDs of the records (at most 100)')
    .option('--json', 'print a JSON array')
    .option('--allow-missing', 'name unknown CIDs on stderr and exit 0 (without it: exit 1); --json stays an array of the records found')
    .addHelpText('after', `\nExamples:\n  $ parley lookup bafkreih... --identity ~/.parley/trainer\n  $ parley lookup bafkreia... bafkreib... --json --allow-missing\n${IDENTITY_HELP}`)
    .action(async (cids: string[], opts: ClientIdentityOptions & { json?: boolean; allowMissing?: boolean }) => {
      await withStoreClient(opts, async (client) => {
        const res = await client.lookup(cids, opts.allowMissing === true);
        const missing = (res.missing ?? []).map((m) => m.cid);
        // One shape whatever the flags: records on stdout (a JSON array with --json), unknown CIDs on stderr.
        process.stdout.write(opts.json ? `${JSON.stringify(res.records.map(recordToJson), null, 2)}\n` : res.records.map(recordToText).join('\n'));
        for (const cid of missing) process.stderr.write(`parley: not found: ${cid}\n`);
        if (missing.length > 0 && opts.allowMissing !== true) process.exitCode = 1;
      });
    });

  storeCommand(program, 'list')
    .description('list records, oldest first (follows pages)')
    .option('-n, --namespace <ns>', 'records of this namespace only')
    .option('-r, --recursive', 'with --namespace: include the namespaces below it')
    .option('-a, --annotation <key=value>', 'records carrying this annotation (repeatable; all must match)', collectAnnotation)
    .option('--media-type <type>', 'records of this media type only')
    .option('--creator-trust-domain <td>', 'records pushed by workloads of this trust domain only')
    .option('--created-after <iso-time>', 'records created strictly after this time')
    .option('--limit <n>', 'stop after this many records', positiveInt('--limit'))
    .option('--page-size <n>', `records per request, 1 to ${MAX_PAGE} (default: ${MAX_PAGE}); every page is followed`, positiveInt('--page-size'))
    .option('--json', 'print a JSON array')
    .addHelpText('after', `\nExamples:\n  $ parley list --namespace ml --recursive --svid id/svid.pem --key id/svid.key --bundle id/bundle.pem\n  $ parley list -a org.opencontainers.image.title=config --created-after 2025-01-01T00:00:00Z --limit 10 --json\n${IDENTITY_HELP}`)
    .action(
      async (
        opts: ClientIdentityOptions & { namespace?: string; recursive?: boolean; annotation?: Record<string, string>; mediaType?: string; creatorTrustDomain?: string; createdAfter?: string; limit?: number; pageSize?: number; json?: boolean },
      ) => {
        await withStoreClient(opts, async (client) => {
          const after = opts.createdAfter !== undefined ? isoTime(opts.createdAfter) : undefined;
          const base: WireListRequest = {
            namespace: opts.namespace ?? '',
            include_sub_namespaces: opts.recursive === true,
            annotations: opts.annotation ?? {},
            media_type: opts.mediaType ?? '',
            creator_trust_domain: opts.creatorTrustDomain ?? '',
            created_after: after ? { seconds: String(Math.floor(after.getTime() / 1000)), nanos: (after.getTime() % 1000) * 1e6 } : null,
          };
          const limit = opts.limit ?? Number.POSITIVE_INFINITY;
          const out: WireRecord[] = [];
          let token = '';
          do {
            const page = await client.list({ ...base, page_size: Math.min(opts.pageSize ?? MAX_PAGE, MAX_PAGE, limit - out.length), page_token: token });
            for (const r of page.records) {
              if (out.length >= limit) break;
              out.push(r);
              if (!opts.json) process.stdout.write(`${r.cid}  ${String(Number(r.size)).padStart(12)}  ${r.namespace}  ${r.media_type}\n`);
            }
            token = page.next_page_token ?? '';
          } while (token !== '' && out.length < limit);
          if (opts.json) process.stdout.write(`${JSON.stringify(out.map(recordToJson), null, 2)}\n`);
        });
      },
    );

  storeCommand(program, 'delete')
    .description('remove a record, its payload and its referrers')
    .argument('<cid>', 'CID of the record')
    .addHelpText('after', `\nExamples:\n  $ parley delete bafkreih... --svid id/svid.pem --key id/svid.key --bundle id/bundle.pem\n${IDENTITY_HELP}`)
    .action(async (cid: string, opts: ClientIdentityOptions) => {
      await withStoreClient(opts, async (client) => {
        await client.delete(cid);
        process.stderr.write(`deleted ${cid}\n`);
      });
    });
}
