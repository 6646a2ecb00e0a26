/** `parley admin bundle list|export`: the trust bundles the gateway holds. */
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { ParleyError } from '../../../common';
import { SpiffeBundle, TrustDomain } from '../../../spiffe';
import type { AdminClient } from '../../admin-client';
import { adminSubcommand, printList } from './index';

const IDENTITY_EXAMPLE = '--svid a/svid.pem --key a/svid.key --bundle a/bundle.pem';

/** An entry of `GET /v1/bundles`. */
interface HeldBundleJson {
  trustDomain: string;
  own: boolean;
  relationship: boolean;
  authorities: number;
}

/** A held bundle with what its document says (`bundle list`). */
export interface BundleRow extends HeldBundleJson {
  /** spiffe_sequence as a decimal string (up to 2^64-1). */
  sequence?: string;
  /** spiffe_refresh_hint in seconds. */
  refreshHint?: number;
  /** The notAfter of the X.509 authority that expires first (RFC 3339). */
  earliestNotAfter?: string;
}

/** Where a held bundle comes from. */
function bundleKind(b: HeldBundleJson): string {
  if (b.own) return 'own';
  return b.relationship ? 'federation' : 'identity source';
}

/** One line per held bundle: trust domain, kind, authorities, sequence, refresh hint, first expiry. */
export function bundleLine(b: BundleRow): string {
  const hint = b.refreshHint === undefined ? '-' : `${b.refreshHint}s`;
  return `${b.trustDomain.padEnd(28)}  ${bundleKind(b).padEnd(15)}  ${String(b.authorities).padStart(2)} CA  seq ${(b.sequence ?? '-').padEnd(6)}  hint ${hint.padEnd(6)}  ${b.earliestNotAfter ? `until ${b.earliestNotAfter}` : '-'}`;
}

/** Reads sequence, refresh hint and the first expiry from the held bundle document of `b`. */
async function bundleRow(client: AdminClient, b: HeldBundleJson): Promise<BundleRow> {
  const res = await client.call('GET', `/v1/bundles/${encodeURIComponent(b.trustDomain)}`, { accept: 'application/json' });
  let bundle: SpiffeBundle;
  try {
    bundle = SpiffeBundle.parse(res.body, TrustDomain.parse(b.trustDomain));
  } catch (err) {
    throw new ParleyError('internal', `bundle list: the bundle held for ${b.trustDomain} cannot be read: ${(err as Error).message}`);
  }
  const ends = bundle.x509Authorities.map((c) => new Date(c.validTo).getTime()).filter((t) => !Number.isNaN(t));
  return {
    ...b,
    ...(bundle.sequence === undefined ? {} : { sequence: bundle.sequence.toString() }),
    ...(bundle.refreshHint === undefined ? {} : { refreshHint: bundle.refreshHint }),
    ...(ends.length === 0 ? {} : { earliestNotAfter: new Date(Math.min(...ends)).toISOString() }),
  };
}

export function registerBundleCommands(admin: Command): void {
  const group = admin
    .command('bundle')
    .description('trust bundles the gateway holds (its own, its partners)')
    .addHelpText('after', `\nExamples:\n  $ parley admin bundle list\n  $ parley admin bundle export -o our-bundle.json\n  $ parley admin bundle export partner.example --pem`);
  adminSubcommand<{ json?: boolean }>(group, 'list', 'list the trust domains whose bundle the gateway holds, with sequence, refresh hint and first expiry', async (client, _args, opts) => {
    const { bundles } = await client.json<{ bundles: HeldBundleJson[] }>('GET', '/v1/bundles');
    const rows: BundleRow[] = [];
    for (const b of bundles) rows.push(await bundleRow(client, b));
    printList(rows, opts.json, bundleLine, 'no bundles held');
  })
    .option('--json', 'print a JSON array')
    .addHelpText(
      'after',
      `
Columns: trust domain, kind (own | federation: a relationship feeds it | identity source: a
federated bundle from the Workload API), X.509 authorities, spiffe_sequence, spiffe_refresh_hint,
and when the first of its authorities expires. The bundles are those this replica holds (a
partner's after its deny list). --json prints the entries of GET /v1/bundles with sequence (a
string), refreshHint (seconds) and earliestNotAfter added.

Examples:
  $ parley admin bundle list ${IDENTITY_EXAMPLE}
  $ parley admin bundle list --json`,
    );
  adminSubcommand<{ pem?: boolean; output?: string }>(group, 'export [trust-domain]', 'print a held bundle (default: our own) as SPIFFE JSON, or PEM with --pem', async (client, args, opts) => {
    let td: string | undefined = args[0];
    if (td === undefined) {
      const { bundles } = await client.json<{ bundles: Array<{ trustDomain: string; own: boolean }> }>('GET', '/v1/bundles');
      td = bundles.find((b) => b.own)?.trustDomain;
    }
    if (td === undefined) throw new ParleyError('not_found', 'bundle export: the gateway holds no bundle of its own trust domain yet');
    const res = await client.call('GET', `/v1/bundles/${encodeURIComponent(td)}`, { accept: opts.pem ? 'application/x-pem-file' : 'application/json' });
    const text = res.body.endsWith('\n') ? res.body : `${res.body}\n`;
    if (opts.output) {
      writeFileSync(opts.output, text);
      process.stderr.write(`bundle of ${td} written to ${opts.output}\n`);
    } else {
      process.stdout.write(text);
    }
  })
    .option('--pem', 'PEM certificates instead of the SPIFFE bundle JSON')
    .option('-o, --output <file>', 'write to this file instead of standard output')
    .addHelpText(
      'after',
      `
Give our bundle to a partner for its bootstrap (their https_spiffe relationship to us), or keep
a partner's bundle as seen by this gateway (after its deny list).

Examples:
  $ parley admin bundle export -o acme-bundle.json ${IDENTITY_EXAMPLE}
  $ parley admin bundle export partner.example --pem`,
    );
}
