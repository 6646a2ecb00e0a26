import { mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { freePort } from '../../support/ports';
import { runParley, runParleyToEnd, waitForReady, type ParleyProcess } from '../../support/parley-process';

export interface Svid {
  cert: string;
  key: string;
  bundle: string;
}

export interface Gateway {
  dir: string;
  grpcPort: number;
  opsPort: number;
  bundlePort: number;
  proc: ParleyProcess;
  config: Record<string, unknown>;
  /** `parley dev issue`: an SVID of the dev CA (files in a fresh folder). */
  issue(id: string): Promise<Svid>;
  stop(): Promise<void>;
}

/** `parley serve` (built dist/, embedded PostgreSQL) in a temporary folder with this config on top of the defaults. */
export async function startGateway(config: Record<string, unknown> = {}, env: Record<string, string> = {}, bundlePortWanted?: number): Promise<Gateway> {
  const dir = mkdtempSync(join(tmpdir(), 'parley-interop-'));
  chmodSync(dir, 0o755); // the embedded postgres user must reach .parley/
  const [grpcPort, opsPort, bundlePort] = [await freePort(), await freePort(), bundlePortWanted ?? (await freePort())];
  const full = { log: { level: 'info', format: 'json' }, ...config };
  writeFileSync(join(dir, 'parley.yaml'), stringify(full));
  const ports = { PARLEY_GRPC_PORT: String(grpcPort), PARLEY_OPS_PORT: String(opsPort), PARLEY_FEDERATION_BUNDLE_ENDPOINT_PORT: String(bundlePort) };
  const proc = runParley(['serve'], { cwd: dir, env: { ...ports, ...env } });
  await waitForReady(`http://127.0.0.1:${opsPort}`, 90_000, proc);
  let n = 0;
  return {
    dir,
    grpcPort,
    opsPort,
    bundlePort,
    proc,
    config: full,
    async issue(id: string): Promise<Svid> {
      const out = join(dir, `svid-${++n}`);
      const r = await runParleyToEnd(['dev', 'issue', '--id', id, '--out', out], { cwd: dir });
      if (r.code !== 0) throw new Error(`parley dev issue failed: ${r.output}`);
      return { cert: join(out, 'svid.pem'), key: join(out, 'svid.key'), bundle: join(out, 'bundle.pem') };
    },
    async stop() {
      await proc.stop('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function readText(path: string): string {
  return readFileSync(path, 'utf8');
}
