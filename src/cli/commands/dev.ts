import { mkdirSync, writeFileSync, chmodSync } from 'node:fs';
import { randomBytes, X509Certificate } from 'node:crypto';
import { resolve, join } from 'node:path';
import type { Command } from 'commander';
import { duration } from '../../config';
import { ParleyError } from '../../common';
import { SpiffeId } from '../../spiffe';
import { loadFromOptions, reportFailure, withConfigOption } from '../context';
import { serveDevWorkloadApi } from './dev-workload-api';
import { formatTimeLeft } from '../domain/explain-failure';
import { buildPkcs12 } from '../domain/pkcs12';


function parseTtl(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const parsed = duration.safeParse(/^\d+$/.test(value) ? Number(value) : value);
  if (!parsed.success || parsed.data <= 0) throw new ParleyError('invalid_argument', `--ttl: must be a duration such as 90s, 30m, 1h (got an invalid value)`);
  return parsed.data;
}

function parseId(value: string, trustDomain: string): SpiffeId {
  let id: SpiffeId;
  try {
    id = SpiffeId.parse(value);
  } catch (err) {
    throw new ParleyError('invalid_argument', `--id: ${err instanceof Error ? err.message : 'invalid SPIFFE ID'}`);
  }
  if (id.trustDomain.name !== trustDomain) throw new ParleyError('invalid_argument', `--id: ${id.toString()} is not in the dev CA's trust domain ${trustDomain}`);
  if (id.path === '') throw new ParleyError('invalid_argument', '--id: an X509-SVID needs a SPIFFE ID with a path');
  return id;
}

/** Where `--p12 [file]` writes (DIR/svid.p12 without a file) and with which password (never printed unless generated here). */
function p12Target(opts: IssueOptions, out: string): { file: string; password: string; generated: boolean } | undefined {
  if (opts.p12 === undefined) {
    if (opts.p12Password !== undefined) throw new ParleyError('invalid_argument', '--p12-password: only with --p12');
    return undefined;
  }
  const file = opts.p12 === true ? join(out, 'svid.p12') : resolve(opts.p12);
  const given = opts.p12Password ?? process.env.PARLEY_P12_PASSWORD;
  if (given === '') throw new ParleyError('invalid_argument', '--p12-password / PARLEY_P12_PASSWORD: must not be empty');
  if (given !== undefined) return { file, password: given, generated: false };
  return { file, password: randomBytes(18).toString('base64url'), generated: true };
}

interface IssueOptions {
  config?: string;
  id: string;
  out: string;
  ttl?: string;
  p12?: string | true;
  p12Password?: string;
}

const ISSUE_HELP = `
Examples:
  $ parley dev issue --id spiffe://parley.local/parley/admin --out ~/.parley/admin
  $ parley dev issue --id spiffe://parley.local/ns/ml/sa/trainer --out ~/.parley/trainer --ttl 24h
  $ parley push weights.bin -n ml/models --identity ~/.parley/trainer
  $ PARLEY_P12_PASSWORD='…' parley dev issue --id spiffe://parley.local/parley/admin --out ~/.parley/admin --p12

--p12 [file] also writes the key and chain as PKCS#12 (default DIR/svid.p12, mode 0600) for a
browser or key store (PBES2 AES-256-CBC, HMAC-SHA256, as OpenSSL 3 writes). Its password comes
from --p12-password or $PARLEY_P12_PASSWORD (prefer the variable: a flag shows in the process
list) and is never printed; with neither, a random one is made and printed once on stderr.

Keep identities outside the repository (a private key must never be committed).
`;

/** What `dev issue` prints: the SPIFFE ID, expiry (and time left), the leaf's SHA-256 fingerprint and the files. */
export function issuedText(id: SpiffeId, certPem: string, notAfter: Date, out: string, now = new Date(), p12File?: string): string {
  const fingerprint = new X509Certificate(certPem).fingerprint256;
  return [
    `issued ${id.toString()} valid until ${notAfter.toISOString()}`,
    `  spiffe id:   ${id.toString()}`,
    `  expires:     ${notAfter.toISOString()} (in ${formatTimeLeft(notAfter.getTime() - now.getTime())})`,
    `  sha-256:     ${fingerprint}`,
    `  ${join(out, 'svid.pem')}`,
    `  ${join(out, 'svid.key')}`,
    `  ${join(out, 'bundle.pem')}`,
    ...(p12File === undefined ? [] : [`  ${p12File}  (PKCS#12: key and chain, for a browser)`]),
    `use it with: --identity ${out}  (or export PARLEY_IDENTITY=${out})`,
    '',
  ].join('\n');
}

export function registerDev(program: Command): void {
  const dev = program.command('dev').description("development helpers backed by the gateway's development CA (identity.source: dev-ca)");

  withConfigOption(dev.command('issue'))
    .description('issue an X509-SVID for a client from the development CA: writes svid.pem, svid.key and bundle.pem')
    .requiredOption('--id <spiffe-id>', 'SPIFFE ID to issue, in the configured trust domain')
    .requiredOption('--out <dir>', 'directory to write svid.pem (chain), svid.key (PKCS#8, 0600) and bundle.pem')
    .option('--ttl <duration>', 'lifetime, e.g. 30m, 1h, 24h (default: identity.devCa.svidTtl)')
    .option('--p12 [file]', 'also write a PKCS#12 of the key and chain for a browser (default DIR/svid.p12)')
    .option('--p12-password <password>', 'password of the PKCS#12 (default $PARLEY_P12_PASSWORD, else a random one printed once on stderr)')
    .addHelpText('after', ISSUE_HELP)
    .action(async (opts: IssueOptions) => {
      try {
        const { config } = loadFromOptions(opts);
        const id = parseId(opts.id, config.identity.trustDomain);
        const ttl = parseTtl(opts.ttl);
        const p12 = p12Target(opts, resolve(opts.out));
        const { openDevCa } = await import('../../identity'); // loaded when run: the context brings NestJS
        const ca = await openDevCa(config.identity, config.dataDir);
        const issued = await ca.issue(id, ttl);
        const out = resolve(opts.out);
        mkdirSync(out, { recursive: true });
        writeFileSync(join(out, 'svid.pem'), issued.certPem);
        writeFileSync(join(out, 'svid.key'), issued.keyPem, { mode: 0o600 });
        chmodSync(join(out, 'svid.key'), 0o600);
        writeFileSync(join(out, 'bundle.pem'), ca.bundlePem());
        if (p12 !== undefined) {
          writeFileSync(p12.file, buildPkcs12({ keyPem: issued.keyPem, chainPem: issued.certPem, password: p12.password, friendlyName: id.toString() }), { mode: 0o600 });
          chmodSync(p12.file, 0o600);
          if (p12.generated) process.stderr.write(`PKCS#12 password of ${p12.file} (shown once, stored nowhere): ${p12.password}\n`);
        }
        process.stdout.write(issuedText(id, issued.certPem, issued.notAfter, out, new Date(), p12?.file));
      } catch (err) {
        reportFailure(err);
      }
    });

  withConfigOption(dev.command('workload-api'))
    .description('serve the SPIFFE Workload API on a unix socket, issuing SVIDs from the development CA')
    .requiredOption('--socket <path>', 'unix socket path to listen on')
    .option('--id <spiffe-id>', 'SPIFFE ID handed to workloads (default: the gateway ID)')
    .option('--ttl <duration>', 'SVID lifetime (default: identity.devCa.svidTtl); SVIDs are renewed at half-life')
    .addHelpText('after', '\nExamples:\n  $ parley dev workload-api --socket /tmp/parley-agent.sock --id spiffe://parley.local/ns/ml/sa/trainer\n  $ SPIFFE_ENDPOINT_SOCKET=unix:///tmp/parley-agent.sock parley serve\n')
    .action(async (opts: { config?: string; socket: string; id?: string; ttl?: string }) => {
      try {
        const { config } = loadFromOptions(opts);
        const id = opts.id ? parseId(opts.id, config.identity.trustDomain) : undefined;
        await serveDevWorkloadApi({ config, socket: resolve(opts.socket), id, ttlMs: parseTtl(opts.ttl) });
      } catch (err) {
        reportFailure(err);
      }
    });
}
