/** `parley registry login-config`: what skopeo and oras need to reach the gateway's OCI registry face. */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { ParleyError } from '../../common';
import { loadClientMaterial, parseServerAddress, withClientIdentityOptions, type ClientIdentityOptions } from '../client-identity';
import { IDENTITY_HELP, reportStoreFailure } from './store/common';

interface LoginConfigOpts extends ClientIdentityOptions {
  out: string;
  token?: boolean;
  json?: boolean;
}

const DEFAULT_REGISTRY = 'localhost:8445';

/** The PEM files of a containers cert dir (skopeo's --src-cert-dir/--dest-cert-dir; oras' --ca-file/--cert-file/--key-file). */
export interface CertDir {
  readonly dir: string;
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

export function writeCertDir(dir: string, pem: { ca: string; cert: string; key: string }): CertDir {
  mkdirSync(dir, { recursive: true });
  const files = { dir, ca: join(dir, 'ca.crt'), cert: join(dir, 'client.cert'), key: join(dir, 'client.key') };
  writeFileSync(files.ca, pem.ca);
  writeFileSync(files.cert, pem.cert);
  writeFileSync(files.key, pem.key, { mode: 0o600 });
  chmodSync(files.key, 0o600);
  return files;
}

/** A grant from the registry's token endpoint (GET /token), asked with the client SVID. */
function fetchToken(registry: string, files: CertDir, pem: { ca: string; cert: string; key: string }): Promise<string> {
  const { host, port } = parseServerAddress(registry);
  return new Promise((resolvePromise, reject) => {
    const req = request({ host, port, path: '/token', method: 'GET', ca: pem.ca, cert: pem.cert, key: pem.key, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c.length + body.length > 65_536 ? '' : c));
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new ParleyError('permission_denied', `registry login-config: ${registry}/token answered ${res.statusCode} (nothing exported to this identity?)`));
        try {
          resolvePromise(String((JSON.parse(body) as { token: unknown }).token));
        } catch {
          reject(new ParleyError('unavailable', `registry login-config: ${registry}/token did not answer a token`));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => reject(new ParleyError('unavailable', `registry login-config: cannot reach ${registry} (${files.dir}): ${(err as NodeJS.ErrnoException).code ?? err.message}`)));
    req.end();
  });
}

/** The flags each tool takes, for a cert dir (and a token). */
export function toolFlags(files: CertDir, token?: string): { skopeoSource: string; skopeoDest: string; oras: string } {
  const tokenFlag = (flag: string) => (token === undefined ? '' : ` ${flag} "$PARLEY_REGISTRY_TOKEN"`);
  return {
    skopeoSource: `--src-cert-dir ${files.dir}${tokenFlag('--src-registry-token')}`,
    skopeoDest: `--dest-cert-dir ${files.dir}${tokenFlag('--dest-registry-token')}`,
    oras: `--plain-http=false --ca-file ${files.ca} --cert-file ${files.cert} --key-file ${files.key}${tokenFlag('--registry-token')}`,
  };
}

export function registerRegistryCommands(program: Command): void {
  const registry = program.command('registry').description("the gateway's OCI registry face (registry.*)");
  withClientIdentityOptions(registry.command('login-config'), DEFAULT_REGISTRY, 'registry address (host:port; the host name its certificate carries)')
    .description('write a cert dir for skopeo and oras from the client SVID, print the flags they take (and, with --token, a grant)')
    .requiredOption('--out <dir>', 'directory to write ca.crt, client.cert and client.key (0600)')
    .option('--token', "ask the registry's token endpoint for a grant (federated callers listing tags); printed as PARLEY_REGISTRY_TOKEN")
    .option('--json', 'print the files, flags (and token) as JSON')
    .addHelpText('after', `\nExamples:\n  $ parley registry login-config --out ./oci-certs --server localhost:8445 --svid id/svid.pem --key id/svid.key --bundle id/bundle.pem\n  $ skopeo copy --src-cert-dir ./oci-certs docker://localhost:8445/ml/models:<CID> oci:./out:model\n${IDENTITY_HELP}`)
    .action(async (opts: LoginConfigOpts) => {
      try {
        await loginConfig(opts);
      } catch (err) {
        reportStoreFailure(err);
      }
    });
}

async function loginConfig(opts: LoginConfigOpts): Promise<void> {
  const material = await loadClientMaterial(opts);
  try {
    const authorities = material.trust.allX509Authorities();
    const pem = {
      ca: authorities.map((c) => c.toString()).join(''),
      cert: material.svid.certificates.map((c) => c.toString()).join(''),
      key: material.svid.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    };
    const files = writeCertDir(resolve(opts.out), pem);
    const registry = opts.server ?? DEFAULT_REGISTRY;
    const token = opts.token ? await fetchToken(registry, files, pem) : undefined;
    const flags = toolFlags(files, token);
    if (opts.json) {
      process.stdout.write(`${JSON.stringify({ registry, files, flags, ...(token === undefined ? {} : { token }) }, null, 2)}\n`);
      return;
    }
    const lines = [
      `# cert dir for ${material.svid.id.toString()} in ${files.dir} (valid until ${material.svid.notAfter.toISOString()})`,
      ...(token === undefined ? [] : [`export PARLEY_REGISTRY_TOKEN='${token}'`]),
      `skopeo copy ${flags.skopeoSource} docker://${registry}/<namespace>:<CID> oci:./out:record`,
      `skopeo copy ${flags.skopeoDest} oci:./in docker://${registry}/<namespace>:<CID of the layer>`,
      `oras pull ${flags.oras} ${registry}/<namespace>:<CID>`,
      `oras push ${flags.oras} ${registry}/<namespace>:<CID of file> <file>:<media type>`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await material.close();
  }
}
