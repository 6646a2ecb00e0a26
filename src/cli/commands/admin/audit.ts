/** `parley admin audit`: the authorization decisions of a gateway (GET /v1/audit). */
import { Option, type Command } from 'commander';
import type { AuditEntryJson } from '../../../authz';
import { ParleyError } from '../../../common';
import type { AdminClient } from '../../admin-client';
import { ADMIN_IDENTITY_HELP, adminSubcommand } from './index';

interface AuditOptions {
  spiffeId?: string;
  trustDomain?: string;
  method?: string;
  decision?: 'allow' | 'deny';
  namespace?: string;
  rule?: string;
  since?: string;
  until?: string;
  limit?: number;
  all?: boolean;
  json?: boolean;
  csv?: boolean;
}

const DEFAULT_LIMIT = 100;
const MAX_PAGE = 1000;
/** Widest a table cell gets (longer values are cut with …); the reason column is never cut. */
const MAX_CELL = 64;

const HELP = `
Shows newest decisions first: by default the latest ${DEFAULT_LIMIT} as a table; --limit N shows N, --all every
matching one (pages are followed). Filters combine with AND; times are RFC 3339 (since inclusive, until exclusive).

Examples:
  $ parley admin audit --decision deny --since 2025-01-31T00:00:00Z
  $ parley admin audit --trust-domain partner.example --method /parley.store.v1.StoreService/Pull --limit 20
  $ parley admin audit --spiffe-id spiffe://partner.example/ns/ml/sa/trainer --all --json > decisions.json
  $ parley admin audit --namespace ml/llama-3 --all --csv > audit.csv
${ADMIN_IDENTITY_HELP}`;

function positiveInt(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < 1) throw new ParleyError('invalid_argument', `--limit: expected a positive integer, got "${value}"`);
  return n;
}

export function registerAuditCommands(admin: Command): void {
  adminSubcommand<AuditOptions>(admin, 'audit', 'list authorization decisions (newest first) as a table, JSON or CSV', (client, _args, opts) => runAudit(client, opts))
    .option('--spiffe-id <id>', 'decisions about this SPIFFE ID')
    .option('--trust-domain <td>', 'decisions about workloads of this trust domain')
    .option('--method <full-method>', 'decisions on this gRPC method, e.g. /parley.store.v1.StoreService/Pull, or admin actions such as "POST /v1/policies"')
    .addOption(new Option('--decision <decision>', 'only allows or only denials').choices(['allow', 'deny']))
    .option('--namespace <ns>', 'decisions covering this record namespace')
    .option('--rule <id>', 'decisions made by this policy rule')
    .option('--since <time>', 'decisions at or after this time (RFC 3339, e.g. 2025-01-31T12:00:00Z)')
    .option('--until <time>', 'decisions before this time (RFC 3339)')
    .addOption(new Option('--limit <n>', `show at most this many (default ${DEFAULT_LIMIT})`).argParser(positiveInt).conflicts('all'))
    .option('--all', 'show every matching decision')
    .addOption(new Option('--json', 'print a JSON array').conflicts('csv'))
    .option('--csv', 'print CSV (RFC 4180, with a header line)')
    .addHelpText('after', HELP);
}

async function runAudit(client: AdminClient, opts: AuditOptions): Promise<void> {
  const filters = {
    spiffeId: opts.spiffeId,
    trustDomain: opts.trustDomain,
    method: opts.method,
    decision: opts.decision,
    namespace: opts.namespace,
    rule: opts.rule,
    since: opts.since,
    until: opts.until,
  };
  const cap = opts.all ? Number.POSITIVE_INFINITY : (opts.limit ?? DEFAULT_LIMIT);
  if (opts.csv) {
    // The server streams every matching row (or maxRows rows) in one response.
    const res = await client.call('GET', '/v1/audit', { query: { ...filters, format: 'csv', maxRows: Number.isFinite(cap) ? cap : undefined }, accept: 'text/csv', timeoutMs: 600_000 });
    process.stdout.write(res.body);
    return;
  }
  const entries: AuditEntryJson[] = [];
  let token = '';
  let more: boolean;
  do {
    const page = await client.json<{ entries: AuditEntryJson[]; nextPageToken: string }>('GET', '/v1/audit', {
      query: { ...filters, pageSize: Math.min(MAX_PAGE, cap - entries.length), pageToken: token || undefined },
    });
    entries.push(...page.entries.slice(0, cap - entries.length));
    token = page.nextPageToken;
    more = token !== '';
  } while (more && entries.length < cap);
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(entries, null, 2)}\n`);
    return;
  }
  process.stdout.write(auditTable(entries));
  if (entries.length === 0) process.stderr.write('no matching decisions\n');
  else if (more) process.stderr.write(`(showing the newest ${entries.length}; more match: use --limit N or --all)\n`);
}

/** A plain-text table, one decision per line, columns padded to their widest cell. */
export function auditTable(entries: readonly AuditEntryJson[]): string {
  if (entries.length === 0) return '';
  const header = ['TIME', 'DECISION', 'SPIFFE ID', 'SOURCE', 'METHOD', 'NAMESPACE', 'RULE', 'REASON'];
  const rows = entries.map((e) => [
    e.at,
    e.decision.toUpperCase(),
    e.spiffeId,
    e.sourceAddress,
    e.method,
    e.namespace ?? '-',
    e.rule ?? '-',
    e.dryRunDenied.length > 0 ? `${e.reason} (dry-run deny: ${e.dryRunDenied.join(', ')})` : e.reason,
  ].map((cell, i) => printable(i === header.length - 1 ? cell : cut(cell))));
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd();
  return `${[line(header), ...rows.map(line)].join('\n')}\n`;
}

function cut(s: string): string {
  return s.length > MAX_CELL ? `${s.slice(0, MAX_CELL - 1)}…` : s;
}

/** Control characters (from remote callers' method names) never reach the terminal. */
function printable(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
}
