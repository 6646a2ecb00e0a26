/** `parley admin revoke …` and `parley admin revocations list|rm`. */
import type { Command } from 'commander';
import type { AllowlistDto } from '../../../admin';
import type { RevocationDto } from '../../../admin';
import { ParleyError } from '../../../common';
import { adminSubcommand, printList } from './index';

function describe(r: RevocationDto): string {
  const what = r.kind === 'spiffe_id' ? 'spiffe id' : 'certificate';
  return `${what} ${r.value} (id ${r.id}${r.expiresAt ? `, until ${r.expiresAt}` : ''})`;
}

/** One line per revocation: id, kind, state, expiry, value, reason. */
export function revocationLine(r: RevocationDto): string {
  const state = r.active ? 'active' : 'expired';
  const reason = r.reason === '' ? '' : `  ${JSON.stringify(r.reason)}`;
  return `${r.id.padStart(6)}  ${r.kind.padEnd(11)}  ${state.padEnd(7)}  ${(r.expiresAt ?? 'never').padEnd(24)}  ${r.value}${reason}`;
}

export function registerRevocations(admin: Command): void {
  adminSubcommand<{ fingerprint?: string; reason?: string; expiresAt?: string; json?: boolean }>(
    admin,
    'revoke [spiffe-id]',
    'revoke a SPIFFE ID (every certificate naming it) or, with --fingerprint, one certificate; every replica refuses its calls and closes its connections',
    async (client, args, opts) => {
      const spiffeId = args[0];
      if ((spiffeId === undefined) === (opts.fingerprint === undefined)) {
        throw new ParleyError('invalid_argument', 'revoke: give either a SPIFFE ID or --fingerprint HEX');
      }
      const body = spiffeId !== undefined ? { spiffeId } : { fingerprint: opts.fingerprint };
      const res = await client.call('POST', '/v1/revocations', { body: { ...body, reason: opts.reason, expiresAt: opts.expiresAt } });
      const r = JSON.parse(res.body) as RevocationDto;
      if (opts.json) process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
      else process.stdout.write(`${res.status === 201 ? 'revoked' : 'revocation replaced'}: ${describe(r)}\n`);
    },
  )
    .option('--fingerprint <hex>', "SHA-256 fingerprint of the certificate's DER (64 hex digits, colons allowed), e.g. from `openssl x509 -noout -fingerprint -sha256`")
    .option('--reason <text>', 'why (kept with the revocation and in the audit trail, never sent to the peer)')
    .option('--expires-at <time>', 'when the revocation stops applying (RFC 3339, e.g. 2030-01-31T12:00:00Z); default never')
    .option('--json', 'print the stored revocation as JSON')
    .addHelpText(
      'after',
      `
Revoking a target again replaces its reason and expiry.

Examples:
  $ parley admin revoke spiffe://partner.example/ns/ml/sa/puller --reason "key leaked" --svid a/svid.pem --key a/svid.key --bundle a/bundle.pem
  $ parley admin revoke --fingerprint 5F:2B:1C:…:3B:2C --expires-at 2030-01-31T12:00:00Z
  $ parley admin revocations list
  $ parley admin revocations rm 42`,
    );

  const group = admin
    .command('revocations')
    .description('list and remove revocations (add them with `parley admin revoke`)')
    .addHelpText('after', `\nExamples:\n  $ parley admin revocations list\n  $ parley admin revocations list --json\n  $ parley admin revocations rm 42`);

  adminSubcommand<{ json?: boolean }>(group, 'list', 'list revocations, newest first (expired ones included)', async (client, _args, opts) => {
    const { revocations } = await client.json<{ revocations: RevocationDto[] }>('GET', '/v1/revocations');
    printList(revocations, opts.json, revocationLine, 'no revocations');
  })
    .option('--json', 'print a JSON array')
    .addHelpText('after', `\nColumns: id, kind, active|expired, expires at, value, reason.\n\nExamples:\n  $ parley admin revocations list --svid a/svid.pem --key a/svid.key --bundle a/bundle.pem\n  $ parley admin revocations list --json`);

  adminSubcommand(group, 'rm <id>', 'remove a revocation: the SPIFFE ID or certificate may connect again', async (client, args) => {
    const id = args[0] ?? '';
    await client.call('DELETE', `/v1/revocations/${encodeURIComponent(id)}`);
    process.stderr.write(`revocation ${id} removed\n`);
  }).addHelpText('after', `\nExamples:\n  $ parley admin revocations rm 42 --svid a/svid.pem --key a/svid.key --bundle a/bundle.pem`);
}

export function registerAllowlists(admin: Command): void {
  const group = admin
    .command('allowlist')
    .description("restrict the source addresses a trust domain's workloads may connect from (trust domains without a list are not restricted)")
    .addHelpText(
      'after',
      `
Checked on every gRPC call, after revocations and before the policy; an empty list refuses every address.

Examples:
  $ parley admin allowlist set partner.example 192.0.2.0/24 2001:db8::/32
  $ parley admin allowlist list
  $ parley admin allowlist rm partner.example`,
    );

  adminSubcommand<{ json?: boolean }>(group, 'list', 'list the allowlists of every restricted trust domain', async (client, _args, opts) => {
    const { allowlists } = await client.json<{ allowlists: AllowlistDto[] }>('GET', '/v1/allowlists');
    printList(allowlists, opts.json, (a) => `${a.trustDomain}  ${a.cidrs.length === 0 ? '(empty: every address refused)' : a.cidrs.join(' ')}`, 'no allowlists: no trust domain is restricted by address');
  })
    .option('--json', 'print a JSON array')
    .addHelpText('after', `\nExamples:\n  $ parley admin allowlist list --svid a/svid.pem --key a/svid.key --bundle a/bundle.pem\n  $ parley admin allowlist list --json`);

  adminSubcommand<{ json?: boolean }>(group, 'set <trust-domain> <cidr...>', "replace a trust domain's allowlist with these CIDR blocks", async (client, args, opts) => {
    const [trustDomain = '', ...cidrs] = args;
    const res = await client.call('PUT', `/v1/allowlists/${encodeURIComponent(trustDomain)}`, { body: { cidrs } });
    const a = JSON.parse(res.body) as AllowlistDto;
    if (opts.json) process.stdout.write(`${JSON.stringify(a, null, 2)}\n`);
    else process.stdout.write(`${res.status === 201 ? 'allowlist created' : 'allowlist replaced'}: ${a.trustDomain}  ${a.cidrs.join(' ')}\n`);
  })
    .option('--json', 'print the stored allowlist as JSON')
    .addHelpText(
      'after',
      `
Blocks are IPv4 or IPv6 CIDRs with zero host bits (a bare address is one host); IPv4-mapped
IPv6 source addresses (::ffff:192.0.2.7) match IPv4 blocks.

Examples:
  $ parley admin allowlist set partner.example 192.0.2.0/24 2001:db8::/32 --svid a/svid.pem --key a/svid.key --bundle a/bundle.pem
  $ parley admin allowlist set partner.example 198.51.100.7`,
    );

  adminSubcommand(group, 'rm <trust-domain>', "remove a trust domain's allowlist (any source address is accepted again)", async (client, args) => {
    const trustDomain = args[0] ?? '';
    await client.call('DELETE', `/v1/allowlists/${encodeURIComponent(trustDomain)}`);
    process.stderr.write(`allowlist of ${trustDomain} removed\n`);
  }).addHelpText('after', `\nExamples:\n  $ parley admin allowlist rm partner.example --svid a/svid.pem --key a/svid.key --bundle a/bundle.pem`);
}
