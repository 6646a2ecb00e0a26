/** `parley admin federation …`: partner relationships and the bundles they feed. */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { ParleyError } from '../../../common';
import type { FederationStatus } from '../../../federation';
import type { AdminClient } from '../../admin-client';
import { adminSubcommand, printList } from './index';

type StatusJson = FederationStatus;

const IDENTITY_EXAMPLE = '--svid a/svid.pem --key a/svid.key --bundle a/bundle.pem';

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

function readText(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new ParleyError('invalid_argument', `${what}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

const path = (td: string) => `/v1/federations/${encodeURIComponent(td)}`;

/** One line per relationship: trust domain, profile, state, sequence, authorities, last success, last error. */
export function federationLine(s: StatusJson): string {
  const error = s.lastError && s.state !== 'ready' ? `  ${s.lastError.reason}: ${s.lastError.detail}` : '';
  return `${s.trustDomain.padEnd(28)}  ${s.profile.padEnd(12)}  ${s.state.padEnd(7)}  seq ${(s.sequence ?? '-').padEnd(6)}  ${String(s.authorities.length).padStart(2)} CA  ${(s.lastSuccessAt ?? 'never').padEnd(24)}${error}`;
}

/** Several lines describing one relationship. */
export function federationText(s: StatusJson): string {
  const lines = [
    `trust domain:    ${s.trustDomain}`,
    `profile:         ${s.profile} (source: ${s.source})`,
    `state:           ${s.state}`,
  ];
  if (s.endpointUrls.length > 0) lines.push(`endpoint:        ${s.endpointUrls.join(', ')}`);
  if (s.endpointSpiffeId) lines.push(`endpoint id:     ${s.endpointSpiffeId}`);
  lines.push(`polls:           ${s.polls} (${s.consecutiveFailures} failing in a row)`);
  lines.push(`last success:    ${s.lastSuccessAt ?? 'never'}`);
  if (s.lastError) lines.push(`last error:      ${s.lastError.reason}: ${s.lastError.detail}${s.lastError.at ? ` (${s.lastError.at})` : ''}`);
  if (s.sequence !== undefined) lines.push(`sequence:        ${s.sequence}`);
  if (s.refreshHint !== undefined) lines.push(`refresh hint:    ${s.refreshHint} s`);
  if (s.nextPollAt) lines.push(`next poll:       ${s.nextPollAt}${s.polledBy ? ` (by ${s.polledBy})` : ''}`);
  if (s.warning) lines.push(`warning:         ${s.warning}`);
  lines.push(`authorities:     ${s.authorities.length === 0 ? 'none' : ''}`);
  for (const a of s.authorities) lines.push(`  ${a.fingerprint}  ${a.subject}  until ${a.notAfter}${a.ski ? `  ${a.ski}` : ''}`);
  if (s.deniedAuthorities.length > 0) lines.push(`denied:          ${s.deniedAuthorities.join(', ')}`);
  if (s.deniedInBundle.length > 0) lines.push(`denied, published by the partner: ${s.deniedInBundle.join(', ')}`);
  for (const k of s.skipped) lines.push(`skipped entry ${k.index}: ${k.reason}`);
  return lines.join('\n');
}

/** The body of PUT from a status (the declaration only). */
function declarationOf(s: StatusJson): Record<string, unknown> {
  return {
    profile: s.profile,
    ...(s.endpointUrls.length > 0 ? { endpointUrls: s.endpointUrls } : {}),
    ...(s.endpointSpiffeId ? { endpointSpiffeId: s.endpointSpiffeId } : {}),
    ...(s.bootstrapBundle ? { bootstrapBundle: s.bootstrapBundle } : {}),
    ...(s.caRootsPem ? { caRootsPem: s.caRootsPem } : {}),
    deniedAuthorities: s.deniedAuthorities,
  };
}

async function printStatus(client: AdminClient, method: string, url: string, json: boolean | undefined, body?: unknown): Promise<StatusJson> {
  const s = await client.json<StatusJson>(method, url, body === undefined ? {} : { body });
  process.stdout.write(json ? `${JSON.stringify(s, null, 2)}\n` : `${federationText(s)}\n`);
  return s;
}

/** How long `federation add` waits for the first fetch (a fetch times out sooner: federation.poll.timeout). */
const FIRST_POLL_WAIT_MS = 30_000;

/** Waits until the relationship has been polled once; undefined when that took longer than FIRST_POLL_WAIT_MS. */
async function firstPoll(client: AdminClient, trustDomain: string): Promise<StatusJson | undefined> {
  const deadline = Date.now() + FIRST_POLL_WAIT_MS;
  for (;;) {
    const s = await client.json<StatusJson>('GET', path(trustDomain));
    if (s.polls > 0 || s.state !== 'pending') return s;
    if (Date.now() >= deadline) return undefined;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

interface AddOptions {
  profile?: string;
  url?: string[];
  endpointId?: string;
  bootstrapBundle?: string;
  caRoots?: string;
  partnerBundle?: string;
  deny?: string[];
  json?: boolean;
}

/** The body of `POST /v1/federations` from the flags of `federation add` (files read here). */
function declarationFromOptions(trustDomain: string, opts: AddOptions): Record<string, unknown> {
  return {
    trustDomain,
    profile: opts.profile,
    ...(opts.url ? { endpointUrls: opts.url } : {}),
    ...(opts.endpointId ? { endpointSpiffeId: opts.endpointId } : {}),
    ...(opts.bootstrapBundle ? { bootstrapBundle: readText(opts.bootstrapBundle, '--bootstrap-bundle') } : {}),
    ...(opts.caRoots ? { caRootsPem: readText(opts.caRoots, '--ca-roots') } : {}),
    ...(opts.deny ? { deniedAuthorities: opts.deny } : {}),
  };
}

/** Uploads the bundle of a static relationship (SPIFFE JSON when it looks like JSON, else PEM). */
async function putBundle(client: AdminClient, trustDomain: string, text: string): Promise<{ body: string }> {
  const json = text.trim().startsWith('{');
  return client.call('PUT', `${path(trustDomain)}/bundle`, { rawBody: text, contentType: json ? 'application/json' : 'application/x-pem-file' });
}

export function registerFederationCommands(admin: Command): void {
  const group = admin
    .command('federation')
    .description("partner trust domains whose bundles the gateway polls (or holds, static): their workloads' SVIDs are verified with them")
    .addHelpText(
      'after',
      `
States: pending (not fetched yet), ready, stale (last fetch failed, or the bundle is old; the last
good bundle is kept), failing (no good bundle yet).

Examples:
  $ parley admin federation add partner.example --profile https_spiffe --url https://gw.partner.example:8446/ \\
      --endpoint-id spiffe://partner.example/parley/gateway --bootstrap-bundle partner-bundle.json
  $ parley admin federation list
  $ parley admin federation show partner.example
  $ parley admin federation refresh partner.example
  $ parley admin federation rm partner.example`,
    );
  registerAdd(group);
  registerList(group);
  registerShow(group);
  registerRm(group);
  registerRefresh(group);
  registerDeny(group);
  registerBundle(group);
}

/** `federation add <trust-domain>`: create a relationship (and, for static, upload its bundle). */
function registerAdd(group: Command): void {
  adminSubcommand<AddOptions>(group, 'add <trust-domain>', 'create a federation relationship; for https_spiffe and https_web the gateway fetches the bundle at once', async (client, args, opts) => {
    const trustDomain = args[0] ?? '';
    if (opts.profile === 'static' && opts.partnerBundle === undefined) throw new ParleyError('invalid_argument', 'federation add: --profile static needs --partner-bundle FILE');
    if (opts.profile !== 'static' && opts.partnerBundle !== undefined) throw new ParleyError('invalid_argument', 'federation add: --partner-bundle is only for --profile static');
    const body = declarationFromOptions(trustDomain, opts);
    const partnerBundle = opts.partnerBundle === undefined ? undefined : readText(opts.partnerBundle, '--partner-bundle');
    await client.call('POST', '/v1/federations', { body });
    if (partnerBundle !== undefined) await putBundle(client, trustDomain, partnerBundle);
    process.stderr.write(`federation with ${trustDomain} created\n`);
    // The polling replica fetches at once: print what that fetch found, not the pending state before it.
    const fetched = opts.profile === 'static' ? undefined : await firstPoll(client, trustDomain);
    if (fetched === undefined && opts.profile !== 'static') process.stderr.write(`no fetch finished within ${FIRST_POLL_WAIT_MS / 1000}s; see parley admin federation show ${trustDomain}\n`);
    await printStatus(client, 'GET', path(trustDomain), opts.json);
  })
    .requiredOption('--profile <profile>', 'https_spiffe | https_web | static')
    .option('--url <url>', 'bundle endpoint URL (https; repeat for fail-over URLs, tried in order)', collect)
    .option('--endpoint-id <spiffe-id>', 'https_spiffe: SPIFFE ID the bundle endpoint must present')
    .option('--bootstrap-bundle <file>', "https_spiffe: bundle of the endpoint ID's trust domain (SPIFFE JSON or PEM) for the first fetch")
    .option('--ca-roots <file>', 'https_web: PEM roots to verify the endpoint with instead of the web PKI')
    .option('--partner-bundle <file>', 'static: the partner bundle (SPIFFE JSON or PEM)')
    .option('--deny <fingerprint>', 'authority never to trust: SHA-256 fingerprint or ski:HEX (repeatable)', collect)
    .option('--json', 'print the status as JSON')
    .addHelpText(
      'after',
      `
Profiles are never inferred or mixed:
  https_spiffe  the endpoint presents an SVID with --endpoint-id, verified with the partner's
                bundle (the --bootstrap-bundle until the first fetch)
  https_web     ordinary HTTPS with web PKI roots (or --ca-roots) and a host name check
  static        no endpoint: the bundle is uploaded (--partner-bundle, later \`federation bundle\`)

A partner's Parley gateway serves its bundle endpoint (port 8446, https_spiffe) with its own SVID,
spiffe://<trust domain>/parley/gateway; its operator exports the bootstrap bundle with
\`parley admin bundle export -o FILE\`. A SPIRE server's endpoint presents its server ID.

Examples:
  $ parley admin federation add partner.example --profile https_spiffe --url https://gw.partner.example:8446/ \\
      --endpoint-id spiffe://partner.example/parley/gateway --bootstrap-bundle partner-bundle.json ${IDENTITY_EXAMPLE}
  $ parley admin federation add spire.example --profile https_spiffe --url https://bundle.spire.example:8443/ \\
      --endpoint-id spiffe://spire.example/spire/server --bootstrap-bundle spire-bundle.pem
  $ parley admin federation add web.example --profile https_web --url https://web.example/bundle.json
  $ parley admin federation add lab.example --profile static --partner-bundle lab-bundle.json`,
    );
}

/** `federation list`: relationships with their state. */
function registerList(group: Command): void {
  adminSubcommand<{ json?: boolean }>(group, 'list', 'list relationships with their state', async (client, _args, opts) => {
    const { federations } = await client.json<{ federations: StatusJson[] }>('GET', '/v1/federations');
    printList(federations, opts.json, federationLine, 'no federation relationships');
  })
    .option('--json', 'print a JSON array')
    .addHelpText(
      'after',
      `\nColumns: trust domain, profile, state (pending|ready|stale|failing), sequence, authorities, last success, last error.\n\nExamples:\n  $ parley admin federation list ${IDENTITY_EXAMPLE}\n  $ parley admin federation list --json`,
    );
}

/** `federation show <trust-domain>`: a relationship's state, held authorities and last error. */
function registerShow(group: Command): void {
  adminSubcommand<{ json?: boolean }>(group, 'show <trust-domain>', "a relationship's state, held authorities and last error", async (client, args, opts) => {
    await printStatus(client, 'GET', path(args[0] ?? ''), opts.json);
  })
    .option('--json', 'print the status as JSON')
    .addHelpText('after', `\nExamples:\n  $ parley admin federation show partner.example ${IDENTITY_EXAMPLE}`);
}

/** `federation rm <trust-domain>`: delete a relationship. */
function registerRm(group: Command): void {
  adminSubcommand(group, 'rm <trust-domain>', "delete a relationship: every replica drops the partner's bundle and closes its connections", async (client, args) => {
    await client.call('DELETE', path(args[0] ?? ''));
    process.stderr.write(`federation with ${args[0]} deleted\n`);
  }).addHelpText('after', `\nExamples:\n  $ parley admin federation rm partner.example ${IDENTITY_EXAMPLE}`);
}

/** `federation refresh <trust-domain>`: fetch the partner bundle now. */
function registerRefresh(group: Command): void {
  adminSubcommand<{ json?: boolean }>(group, 'refresh <trust-domain>', 'fetch the partner bundle now and show the result', async (client, args, opts) => {
    const s = await printStatus(client, 'POST', `${path(args[0] ?? '')}/refresh`, opts.json);
    if (s.state === 'failing' || s.state === 'stale') process.exitCode = 1;
  })
    .option('--json', 'print the status as JSON')
    .addHelpText('after', `\nExits 1 when the partner is failing or stale after the fetch.\n\nExamples:\n  $ parley admin federation refresh partner.example ${IDENTITY_EXAMPLE}`);
}

/** `federation deny <trust-domain> <authority>`: never trust one of the partner's CAs. */
function registerDeny(group: Command): void {
  adminSubcommand<{ json?: boolean }>(group, 'deny <trust-domain> <authority>', "never trust one of the partner's CAs, even while it publishes it", async (client, args, opts) => {
    const [td = '', authority = ''] = args;
    const current = await client.json<StatusJson>('GET', path(td));
    const body = declarationOf(current);
    body.deniedAuthorities = [...current.deniedAuthorities, authority];
    await printStatus(client, 'PUT', path(td), opts.json, body);
  })
    .option('--json', 'print the status as JSON')
    .addHelpText(
      'after',
      `
The authority is its SHA-256 fingerprint (64 hex digits, colons allowed; \`federation show\` lists them)
or its subject key identifier as ski:HEX. Every replica stops trusting it within about a second.

Examples:
  $ parley admin federation deny partner.example 3f1d0c9e…f8e7d6 ${IDENTITY_EXAMPLE}
  $ parley admin federation deny partner.example ski:6f1a2b3c4d5e6f708192a3b4c5d6e7f809112233`,
    );
}

/** `federation bundle <trust-domain> <file>`: replace the bundle of a static relationship. */
function registerBundle(group: Command): void {
  adminSubcommand<{ json?: boolean }>(group, 'bundle <trust-domain> <file>', 'replace the bundle of a static relationship (SPIFFE JSON or PEM)', async (client, args, opts) => {
    const [td = '', file = ''] = args;
    const text = readText(file, 'federation bundle');
    const res = await putBundle(client, td, text);
    const s = JSON.parse(res.body) as StatusJson;
    process.stdout.write(opts.json ? `${JSON.stringify(s, null, 2)}\n` : `${federationText(s)}\n`);
  })
    .option('--json', 'print the status as JSON')
    .addHelpText('after', `\nExamples:\n  $ parley admin federation bundle lab.example lab-bundle.json ${IDENTITY_EXAMPLE}`);
}
