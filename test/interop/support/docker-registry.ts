import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { waitFor } from '../../support/ports';
import { run } from './peers';

/** Debian bookworm's docker-registry (distribution's registry), installed by setup.sh. */
export const DOCKER_REGISTRY = '/usr/bin/docker-registry';
export const DOCKER_REGISTRY_VERSION = '2.8.2+ds1';

export interface RegistryTls {
  readonly caPem: string;
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
}

/** A self-signed CA (openssl) and a server certificate of it for 127.0.0.1. */
export async function registryTls(dir: string): Promise<RegistryTls> {
  mkdirSync(dir, { recursive: true });
  const f = (n: string) => join(dir, n);
  const openssl = async (...args: string[]) => {
    const r = await run('openssl', args, { cwd: dir });
    if (r.code !== 0) throw new Error(`openssl ${args[0]}: ${r.stderr}`);
  };
  await openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '2', '-subj', '/CN=parley oci sync test CA');
  await openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=127.0.0.1');
  writeFileSync(f('ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  await openssl('x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('server.pem'), '-days', '2', '-extfile', f('ext.cnf'));
  return { caPem: readFileSync(f('ca.pem'), 'utf8'), caFile: f('ca.pem'), certFile: f('server.pem'), keyFile: f('server.key') };
}

/** An htpasswd file (bcrypt, as distribution's htpasswd auth wants) for one user. */
export async function htpasswd(file: string, user: string, password: string): Promise<void> {
  const r = await run('python3', ['-W', 'ignore', '-c', 'import crypt,sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH)))', password]);
  if (r.code !== 0 || !r.stdout.startsWith('$2')) throw new Error(`bcrypt: ${r.stderr}`);
  writeFileSync(file, `${user}:${r.stdout.trim()}\n`);
}

export interface RunningRegistry {
  readonly url: string;
  readonly host: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  output(): string;
}

/** docker-registry on 127.0.0.1:<port> with a generated config: storage in `dir`, optional TLS and htpasswd. */
export async function startDockerRegistry(o: { dir: string; port: number; tls?: RegistryTls; htpasswdFile?: string }): Promise<RunningRegistry> {
  mkdirSync(join(o.dir, 'data'), { recursive: true });
  const config = {
    version: 0.1,
    log: { level: 'info', accesslog: { disabled: false } },
    storage: { filesystem: { rootdirectory: join(o.dir, 'data') }, delete: { enabled: true } },
    http: { addr: `127.0.0.1:${o.port}`, ...(o.tls ? { tls: { certificate: o.tls.certFile, key: o.tls.keyFile } } : {}) },
    ...(o.htpasswdFile ? { auth: { htpasswd: { realm: 'parley-oci-sync-test', path: o.htpasswdFile } } } : {}),
  };
  const configFile = join(o.dir, 'config.yml');
  writeFileSync(configFile, stringify(config));
  const scheme = o.tls ? 'https' : 'http';
  let child: ChildProcess | undefined;
  let out = '';
  const start = async () => {
    child = spawn(DOCKER_REGISTRY, ['serve', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    await waitFor(async () => out.includes('listening on'), 20_000);
  };
  await start();
  return {
    url: `${scheme}://127.0.0.1:${o.port}`,
    host: `127.0.0.1:${o.port}`,
    start,
    output: () => out,
    async stop() {
      const c = child;
      if (c === undefined || c.exitCode !== null) return;
      await new Promise<void>((done) => {
        c.once('exit', () => done());
        c.kill('SIGKILL');
      });
    },
  };
}
