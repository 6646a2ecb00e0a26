/** `parley admin policy list|show|add|update|rm|explain|import-casbin`: the authorization rules. */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { RuleJson } from '../../../authz';
import { ParleyError } from '../../../common';
import type { AdminClient } from '../../admin-client';
import { adminSubcommand } from './index';
import { givenRuleFlags, ruleDetail, ruleFromOptions, ruleLine, withRuleFlags, type EntryJson, type RuleOptions } from './policy-rule';

interface AddOptions extends RuleOptions {
  id?: string;
  position?: string;
  json?: boolean;
}

interface UpdateOptions extends RuleOptions {
  json?: boolean;
}

interface ListJson {
  version: number;
  rules: EntryJson[];
  unreachable: string[];
  denyAll?: string;
}

interface CasbinReportJson {
  rules: RuleJson[];
  lines: Array<{ line: number; text: string; status: string; message?: string; ruleId?: string }>;
  applied: boolean;
  version: number;
}

const print = (text: string): void => void process.stdout.write(`${text}\n`);
const note = (text: string): void => void process.stderr.write(`${text}\n`);

export function registerPolicyCommands(admin: Command): void {
  const group = admin
    .command('policy')
    .description('authorization rules: who may call which gRPC methods (deny overrides allow; no matching allow = deny)')
    .addHelpText(
      'after',
      `
Rules match exactly: subjects by trust domain (or the keywords own, federated, any), exact
SPIFFE ID or SPIFFE ID prefix on / boundaries; methods by full name, /pkg.Service/* or *.
Changes are in force on every replica within about a second. Rules declared in the config file
(authz.policy.rules, source config) come first and can only be changed there.

Examples:
  $ parley admin policy list
  $ parley admin policy add --id partner-pull --effect allow --trust-domain partner.example --method /parley.store.v1.StoreService/Pull
  $ parley admin policy update partner-pull --effect allow --trust-domain partner.example --method /parley.store.v1.StoreService/Pull --namespace shared
  $ parley admin policy explain --spiffe-id spiffe://partner.example/ns/ml/sa/puller --method /parley.store.v1.StoreService/Pull
  $ parley admin policy rm partner-pull
  $ parley admin policy import-casbin directory-policy.csv --dry-run`,
    );
  registerList(group);
  registerShow(group);
  registerAdd(group);
  registerUpdate(group);
  registerRm(group);
  registerExplain(group);
  registerImportCasbin(group);
}

/** `policy list`: the rules in order, with their source and the policy version. */
function registerList(group: Command): void {
  adminSubcommand<{ json?: boolean }>(group, 'list', 'list the rules in order, with their source and the policy version', async (client, _args, opts) => {
    const list = await client.json<ListJson>('GET', '/v1/policies');
    if (opts.json) {
      print(JSON.stringify(list, null, 2));
      return;
    }
    note(`policy version ${list.version}, ${list.rules.length} rule${list.rules.length === 1 ? '' : 's'}`);
    for (const e of list.rules) print(ruleLine(e));
    if (list.denyAll) note(`WARNING: every call is denied: ${list.denyAll}`);
    if (list.unreachable.length > 0) note(`no allow rule reaches: ${list.unreachable.join(', ')}`);
  })
    .option('--json', 'print the policy as JSON')
    .addHelpText('after', `\nColumns: position, effect, id, (source), subjects -> methods, conditions.\n\nExamples:\n  $ parley admin policy list --svid a/svid.pem --key a/svid.key --bundle a/bundle.pem\n  $ parley admin policy list --json`);
}

/** `policy show <id>`: one rule and its metadata. */
function registerShow(group: Command): void {
  adminSubcommand<{ json?: boolean }>(group, 'show <id>', 'show one rule', async (client, args, opts) => {
    const e = await client.json<EntryJson>('GET', `/v1/policies/${encodeURIComponent(args[0] ?? '')}`);
    print(opts.json ? JSON.stringify(e, null, 2) : ruleDetail(e));
  })
    .option('--json', 'print the rule and its metadata as JSON')
    .addHelpText('after', `\nExamples:\n  $ parley admin policy show default-federated`);
}

/** `policy add`: a rule from a JSON file or from flags, at a position. */
function registerAdd(group: Command): void {
  const add = adminSubcommand<AddOptions>(group, 'add', 'add a rule, from a JSON file or from flags', async (client, _args, opts) => {
    const rule = await ruleFromOptions('policy add', opts, opts.id, true);
    if (opts.position !== undefined) {
      const position = Number(opts.position);
      if (!Number.isInteger(position) || position < 0) throw new ParleyError('invalid_argument', 'policy add: --position must be a non-negative integer');
      rule.position = position;
    }
    const e = await client.json<EntryJson>('POST', '/v1/policies', { body: rule });
    if (opts.json) print(JSON.stringify(e, null, 2));
    else print(`rule added: ${ruleLine(e)}`);
  })
    .option('--file <rule.json>', 'the rule as JSON (same shape as the API; expiresAt in RFC 3339)')
    .option('--id <id>', 'rule id');
  withRuleFlags(add, 'deny rules: report matches in the audit trail instead of denying')
    .option('--position <n>', 'insert at this index (0 = first); default last')
    .option('--json', 'print the stored rule as JSON')
    .addHelpText(
      'after',
      `
Examples:
  $ parley admin policy add --id partner-pull --effect allow --trust-domain partner.example \\
      --method /parley.store.v1.StoreService/Pull --method /parley.store.v1.StoreService/Lookup --namespace shared
  $ parley admin policy add --id no-deletes --effect deny --trust-domain any --method /parley.store.v1.StoreService/Delete --dry-run
  $ parley admin policy add --file rule.json --position 0
    where rule.json is {"id":"ml-push","effect":"allow","subjects":[{"spiffeIdPrefix":"spiffe://acme.example/ns/ml"}],"methods":["/parley.store.v1.StoreService/Push"]}`,
    );
}

/** `policy update <id>`: replace a rule as a whole, or only switch its dry-run mode. */
function registerUpdate(group: Command): void {
  const update = adminSubcommand<UpdateOptions>(group, 'update <id>', 'replace a rule as a whole (same id and position), or only switch its dry-run mode', async (client, args, opts) => {
    const id = args[0] ?? '';
    const url = `/v1/policies/${encodeURIComponent(id)}`;
    const onlyDryRun = opts.file === undefined && givenRuleFlags(opts, ['dryRun']).length === 0;
    const rule = onlyDryRun ? await withDryRunSwitched(client, url, id, opts) : await ruleFromOptions('policy update', opts, id, false);
    if (rule === undefined) return;
    const e = await client.json<EntryJson>('PUT', url, { body: rule });
    print(opts.json ? JSON.stringify(e, null, 2) : `rule updated: ${ruleLine(e)}`);
  }).option('--file <rule.json>', 'the whole new rule as JSON (same shape as the API; "id" may be left out)');
  withRuleFlags(update, 'deny rules: report matches instead of denying; given alone, switches dry run on and keeps the rest of the rule')
    .option('--no-dry-run', 'given alone: switch dry run off (enforce the deny rule) and keep the rest of the rule')
    .option('--json', 'print the stored rule as JSON')
    .addHelpText(
      'after',
      `
The rule is replaced as a whole (PUT /v1/policies/{id}): every field you do not give
(namespaces, source CIDRs, expiry, description, dry run) is cleared, not kept. Give the
complete rule, from --file or from the same flags as \`policy add\` (--effect required, no --id).
The rule keeps its id and its position in the list; to move it, rm it and add it with --position.

With only --dry-run or --no-dry-run (no --file, no other rule flag) the command reads the rule,
switches its dry-run mode (deny rules only) and writes it back with every other field kept; a
change someone else makes between the read and the write is overwritten.

Nothing is changed when the new rule is invalid (the fields are named). Rules declared in the
config file (source config) can only be changed there.

Examples:
  $ parley admin policy update partner-pull --effect allow --trust-domain partner.example \\
      --method /parley.store.v1.StoreService/Pull --namespace shared
  $ parley admin policy show ml-push --json | jq .rule > rule.json    # edit rule.json, then
  $ parley admin policy update ml-push --file rule.json
  $ parley admin policy update no-deletes --no-dry-run                # enforce a rule tried in dry run
  $ parley admin policy update no-deletes --dry-run`,
    );
}

/**
 * `policy update` with only --dry-run / --no-dry-run: the stored rule with that one field
 * changed, or undefined (and said so) when the rule already is in that mode.
 */
async function withDryRunSwitched(client: AdminClient, url: string, id: string, opts: UpdateOptions): Promise<Record<string, unknown> | undefined> {
  if (opts.dryRun === undefined) throw new ParleyError('invalid_argument', 'policy update: nothing to change: give --file, the rule flags (at least --effect), or only --dry-run / --no-dry-run');
  const current = await client.json<EntryJson>('GET', url);
  if ((current.rule.dryRun === true) === opts.dryRun) {
    note(`rule ${id}: dry run is already ${opts.dryRun ? 'on' : 'off'}; nothing changed`);
    print(opts.json ? JSON.stringify(current, null, 2) : `rule unchanged: ${ruleLine(current)}`);
    return undefined;
  }
  const rule: Record<string, unknown> = { ...current.rule };
  if (opts.dryRun) rule.dryRun = true;
  else delete rule.dryRun;
  return rule;
}

/** `policy rm <id>`: remove a rule. */
function registerRm(group: Command): void {
  adminSubcommand(group, 'rm <id>', 'remove a rule', async (client, args) => {
    const id = args[0] ?? '';
    await client.call('DELETE', `/v1/policies/${encodeURIComponent(id)}`);
    note(`rule ${id} removed`);
  }).addHelpText('after', `\nRules declared in the config file (source config) can only be removed there.\n\nExamples:\n  $ parley admin policy rm partner-pull`);
}

/** `policy explain`: decide a hypothetical call and show which rule decided. */
function registerExplain(group: Command): void {
  adminSubcommand<{ spiffeId?: string; method?: string; namespace?: string; sourceIp?: string; at?: string; json?: boolean }>(
    group,
    'explain',
    'decide a hypothetical call with the current policy and show which rule decided',
    async (client, _args, opts) => {
      if (!opts.spiffeId || !opts.method) throw new ParleyError('invalid_argument', 'policy explain: --spiffe-id and --method are required');
      const body = { spiffeId: opts.spiffeId, method: opts.method, namespace: opts.namespace, sourceIp: opts.sourceIp, at: opts.at };
      const d = await client.json<{ allowed: boolean; rule?: string; reason: string; dryRunDenied: string[]; version: number; warning?: string }>('POST', '/v1/policies:explain', { body });
      if (opts.json) {
        print(JSON.stringify(d, null, 2));
        return;
      }
      print(`${d.allowed ? 'ALLOWED' : 'DENIED'}: ${d.reason} (policy version ${d.version})`);
      if (d.dryRunDenied.length > 0) print(`dry-run deny rules that matched: ${d.dryRunDenied.join(', ')}`);
      if (d.warning !== undefined) note(`WARNING: ${d.warning}`);
    },
  )
    .option('--spiffe-id <id>', "the caller's SPIFFE ID")
    .option('--method <method>', 'full method name, /pkg.Service/Method')
    .option('--namespace <ns>', 'the namespace of the call')
    .option('--source-ip <ip>', "the caller's address")
    .option('--at <time>', 'decide as of this instant (RFC 3339); default now')
    .option('--json', 'print the decision as JSON')
    .addHelpText(
      'after',
      `\nExamples:\n  $ parley admin policy explain --spiffe-id spiffe://partner.example/ns/ml/sa/puller --method /parley.store.v1.StoreService/Pull --namespace shared/models\n  $ parley admin policy explain --spiffe-id spiffe://acme.example/ci --method /parley.store.v1.StoreService/Delete --source-ip 10.0.0.7`,
    );
}

/** `policy import-casbin <file>`: a Directory policy (Casbin CSV) as exact allow rules. */
function registerImportCasbin(group: Command): void {
  adminSubcommand<{ replace?: boolean; dryRun?: boolean; json?: boolean }>(
    group,
    'import-casbin <file>',
    'import a Directory policy (Casbin CSV) as exact allow rules; prints every line whose meaning differs',
    async (client, args, opts) => {
      const file = args[0] ?? '';
      const csv = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
        throw new ParleyError('invalid_argument', `policy import-casbin: cannot read ${file}: ${err.code ?? err.message}`);
      });
      const report = await client.json<CasbinReportJson>('POST', '/v1/policies:import-casbin', { body: { csv, mode: opts.replace ? 'replace' : 'append', dryRun: opts.dryRun === true } });
      if (opts.json) {
        print(JSON.stringify(report, null, 2));
        return;
      }
      for (const l of report.lines) {
        if (l.status === 'differs' || l.status === 'error') print(`line ${l.line} ${l.status.toUpperCase()}: ${l.text}\n  ${l.message ?? ''}`);
      }
      const counts = new Map<string, number>();
      for (const l of report.lines) counts.set(l.status, (counts.get(l.status) ?? 0) + 1);
      const summary = ['imported', 'differs', 'skipped', 'error'].map((s) => {
        const n = counts.get(s) ?? 0;
        return `${n} ${s === 'error' && n !== 1 ? 'errors' : s}`;
      }).join(', ');
      note(`${report.rules.length} rule${report.rules.length === 1 ? '' : 's'} (${summary}); ${report.applied ? `written, policy version ${report.version}` : 'nothing written (dry run)'}`);
    },
  )
    .option('--replace', 'replace every rule that is not declared in the config file (default: append)')
    .option('--dry-run', 'only report, change nothing')
    .option('--json', 'print the whole report as JSON')
    .addHelpText(
      'after',
      `
Directory matched trust domains and methods by unanchored regular expressions; Parley matches
exactly, so a line is "differs" when the imported rule admits less (or other) than Casbin did.
Nothing is written when a line cannot be imported (error).

Examples:
  $ parley admin policy import-casbin policy.csv --dry-run
  $ parley admin policy import-casbin policy.csv --replace`,
    );
}
