/** `parley admin export add|list|show|rm`: what this gateway shares with partners for Sync. */
import type { Command } from 'commander';
import type { ExportDto } from '../../../admin';
import { ParleyError } from '../../../common';
import { adminSubcommand, printList } from './index';

function partnerText(p: ExportDto['partner']): string {
  if (p.trustDomain !== undefined) return `trust domain ${p.trustDomain}`;
  if (p.spiffeId !== undefined) return p.spiffeId;
  return `${p.spiffeIdPrefix ?? '?'}/…`;
}

/** One line per export: id, partner, actions, namespaces. */
export function exportLine(e: ExportDto): string {
  const selector = e.annotations === undefined || Object.keys(e.annotations).length === 0 ? '' : `  where ${Object.entries(e.annotations).map(([k, v]) => `${k}=${v}`).join(',')}`;
  return `${e.id.padEnd(20)}  ${partnerText(e.partner).padEnd(40)}  ${e.actions.join(',').padEnd(30)}  ${e.namespaces.join(', ')}${selector}`;
}

interface AddOptions {
  trustDomain?: string;
  spiffeId?: string;
  spiffeIdPrefix?: string;
  namespace?: string[];
  annotation?: string[];
  action?: string[];
  description?: string;
  json?: boolean;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

function partnerOf(o: AddOptions): ExportDto['partner'] {
  const given = [o.trustDomain && { trustDomain: o.trustDomain }, o.spiffeId && { spiffeId: o.spiffeId }, o.spiffeIdPrefix && { spiffeIdPrefix: o.spiffeIdPrefix }].filter(Boolean);
  if (given.length !== 1) throw new ParleyError('invalid_argument', 'export add: give exactly one of --trust-domain, --spiffe-id, --spiffe-id-prefix');
  return given[0] as ExportDto['partner'];
}

function annotationsOf(pairs: string[] | undefined): Record<string, string> | undefined {
  if (pairs === undefined) return undefined;
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new ParleyError('invalid_argument', `export add: --annotation ${JSON.stringify(pair)}: must be key=value`);
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

function registerAdd(group: Command): void {
  adminSubcommand<AddOptions>(group, 'add <id>', 'create or replace an export: the partner named gets grants for these namespaces and actions', async (client, args, opts) => {
    const id = args[0] ?? '';
    const body = {
      partner: partnerOf(opts),
      namespaces: opts.namespace ?? [],
      actions: opts.action ?? ['list', 'lookup', 'pull', 'pull_referrer'],
      ...(opts.annotation === undefined ? {} : { annotations: annotationsOf(opts.annotation) }),
      ...(opts.description === undefined ? {} : { description: opts.description }),
    };
    const res = await client.call('PUT', `/v1/exports/${encodeURIComponent(id)}`, { body });
    const stored = JSON.parse(res.body) as ExportDto;
    if (opts.json) process.stdout.write(`${JSON.stringify(stored, null, 2)}\n`);
    else process.stdout.write(`${res.status === 201 ? 'export created' : 'export replaced'}: ${exportLine(stored)}\n`);
  })
    .option('--trust-domain <name>', 'the partner: every workload of this trust domain')
    .option('--spiffe-id <id>', 'the partner: exactly this SPIFFE ID (e.g. its gateway)')
    .option('--spiffe-id-prefix <id>', 'the partner: SPIFFE IDs under this path (on / boundaries)')
    .option('--namespace <ns>', 'a namespace to share, with everything below it (repeatable)', collect)
    .option('--annotation <key=value>', 'only records with this annotation (repeatable; all must match)', collect)
    .option('--action <action>', 'list, lookup, pull or pull_referrer (repeatable; default all four)', collect)
    .option('--description <text>', 'what it is for')
    .option('--json', 'print the stored export as JSON')
    .addHelpText('after', `\nExamples:\n  $ parley admin export add ml-shared --trust-domain partner.example --namespace ml/shared\n  $ parley admin export add eval --spiffe-id spiffe://partner.example/parley/gateway --namespace eval --annotation stage=released --action pull`);
}

export function registerExportCommands(admin: Command): void {
  const group = admin
    .command('export')
    .description('what this gateway shares with partners for Sync (nothing until an export names a partner)')
    .addHelpText('after', `\nExamples:\n  $ parley admin export add ml-shared --trust-domain partner.example --namespace ml/shared\n  $ parley admin export list\n  $ parley admin export show ml-shared --json\n  $ parley admin export rm ml-shared`);
  registerAdd(group);
  adminSubcommand<{ json?: boolean }>(group, 'list', 'list the exports', async (client, _args, opts) => {
    const { exports } = await client.json<{ exports: ExportDto[] }>('GET', '/v1/exports');
    printList(exports, opts.json, exportLine, 'no exports: nothing is shared');
  })
    .option('--json', 'print a JSON array')
    .addHelpText('after', `\nColumns: id, partner, actions, namespaces (and the annotation selector).\n\nExamples:\n  $ parley admin export list --json`);
  adminSubcommand<{ json?: boolean }>(group, 'show <id>', 'show one export', async (client, args, opts) => {
    const e = await client.json<ExportDto>('GET', `/v1/exports/${encodeURIComponent(args[0] ?? '')}`);
    if (opts.json) process.stdout.write(`${JSON.stringify(e, null, 2)}\n`);
    else process.stdout.write(`${exportLine(e)}\n  created by ${e.createdBy} at ${e.createdAt}, updated ${e.updatedAt}${e.description ? `\n  ${e.description}` : ''}\n`);
  })
    .option('--json', 'print it as JSON')
    .addHelpText('after', `\nExamples:\n  $ parley admin export show ml-shared`);
  adminSubcommand(group, 'rm <id>', 'remove an export: no more grants for it (issued grants expire on their own)', async (client, args) => {
    const id = args[0] ?? '';
    await client.call('DELETE', `/v1/exports/${encodeURIComponent(id)}`);
    process.stderr.write(`export ${id} removed\n`);
  }).addHelpText('after', `\nExamples:\n  $ parley admin export rm ml-shared`);
}
