/** The `parley admin` CLI against a test gateway: identity flags, and runs inside the test process. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildProgram } from '../../src/cli/main';
import { adminIdOf, issueCreds, type Creds } from './admin-api';
import { devCaOf, type TestGateway } from './gateway';

/**
 * Writes an admin SVID (`who`, or a new one for the default admin ID) and the dev CA bundle
 * into `dir`, and returns the `parley admin` flags that reach the gateway with them.
 */
export async function adminCliFlags(gw: TestGateway, dir: string, who?: Creds): Promise<string[]> {
  const ca = await devCaOf(gw);
  const svid = who ?? (await issueCreds(ca, adminIdOf(gw)));
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'svid.pem'), svid.certPem);
  writeFileSync(join(dir, 'svid.key'), svid.keyPem, { mode: 0o600 });
  writeFileSync(join(dir, 'bundle.pem'), ca.bundlePem());
  return ['--server', `127.0.0.1:${gw.gateway.listeners.admin!.port}`, '--svid', join(dir, 'svid.pem'), '--key', join(dir, 'svid.key'), '--bundle', join(dir, 'bundle.pem')];
}

/** Runs the CLI in this process (no child process), capturing its output and exit code. */
export async function cliInProcess(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => ((stdout += String(chunk)), true));
  const err = jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => ((stderr += String(chunk)), true));
  process.exitCode = undefined;
  try {
    await buildProgram().parseAsync(['node', 'parley', ...args]);
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
  const code = Number(process.exitCode ?? 0);
  process.exitCode = undefined;
  return { code, stdout, stderr };
}
