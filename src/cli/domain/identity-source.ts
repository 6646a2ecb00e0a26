/**
 * Where a client command takes its identity from, decided from the flags and the
 * environment alone (no file is read here):
 *   1. --svid/--key/--bundle, each overriding the file of the identity directory;
 *   2. --identity DIR (DIR/svid.pem, DIR/svid.key, DIR/bundle.pem, as `parley dev issue` writes);
 *   3. --workload-api ADDRESS;
 *   4. $PARLEY_IDENTITY (a directory, as --identity);
 *   5. $SPIFFE_ENDPOINT_SOCKET (the Workload API).
 * Flags win over the environment; a directory and the Workload API given together is an error.
 */
import { join } from 'node:path';

export interface IdentityFlags {
  identity?: string;
  svid?: string;
  key?: string;
  bundle?: string;
  workloadApi?: string;
}

export interface IdentityEnv {
  PARLEY_IDENTITY?: string;
  SPIFFE_ENDPOINT_SOCKET?: string;
}

export type IdentitySource =
  | { kind: 'files'; svid: string; key: string; bundle: string; /** what named the files, for messages */ from: string }
  | { kind: 'workload-api'; address?: string; from: string };

export type IdentityResolution = { ok: true; source: IdentitySource } | { ok: false; message: string };

export const SVID_FILE = 'svid.pem';
export const KEY_FILE = 'svid.key';
export const BUNDLE_FILE = 'bundle.pem';

const NO_IDENTITY =
  'no client identity: give --identity DIR (the directory `parley dev issue --out DIR` wrote), or --svid, --key and --bundle, ' +
  'or --workload-api unix:///path (or set PARLEY_IDENTITY or SPIFFE_ENDPOINT_SOCKET)';

function filesFrom(dir: string | undefined, f: IdentityFlags, from: string): IdentityResolution {
  const pick = (flag: string | undefined, file: string) => flag ?? (dir === undefined ? undefined : join(dir, file));
  const svid = pick(f.svid, SVID_FILE);
  const key = pick(f.key, KEY_FILE);
  const bundle = pick(f.bundle, BUNDLE_FILE);
  if (svid === undefined || key === undefined || bundle === undefined) {
    const missing = [svid === undefined && '--svid', key === undefined && '--key', bundle === undefined && '--bundle'].filter(Boolean).join(', ');
    return { ok: false, message: `--svid, --key and --bundle go together (missing ${missing}); or give --identity DIR` };
  }
  return { ok: true, source: { kind: 'files', svid, key, bundle, from } };
}

export function resolveIdentitySource(f: IdentityFlags, env: IdentityEnv): IdentityResolution {
  const fileFlags = [f.svid, f.key, f.bundle].some((v) => v !== undefined);
  const hasDir = f.identity !== undefined && f.identity !== '';
  if (f.workloadApi !== undefined && (fileFlags || hasDir)) {
    return { ok: false, message: '--workload-api cannot be combined with --identity or --svid/--key/--bundle: give one identity' };
  }
  if (hasDir) return filesFrom(f.identity, f, `--identity ${f.identity}`);
  if (fileFlags) {
    const envDir = env.PARLEY_IDENTITY !== undefined && env.PARLEY_IDENTITY !== '' ? env.PARLEY_IDENTITY : undefined;
    return filesFrom(envDir, f, envDir === undefined ? '--svid/--key/--bundle' : `PARLEY_IDENTITY=${envDir}`);
  }
  if (f.workloadApi !== undefined) return { ok: true, source: { kind: 'workload-api', address: f.workloadApi, from: `--workload-api ${f.workloadApi}` } };
  if (env.PARLEY_IDENTITY !== undefined && env.PARLEY_IDENTITY !== '') return filesFrom(env.PARLEY_IDENTITY, f, `PARLEY_IDENTITY=${env.PARLEY_IDENTITY}`);
  if (env.SPIFFE_ENDPOINT_SOCKET !== undefined && env.SPIFFE_ENDPOINT_SOCKET !== '') {
    return { ok: true, source: { kind: 'workload-api', from: `SPIFFE_ENDPOINT_SOCKET=${env.SPIFFE_ENDPOINT_SOCKET}` } };
  }
  return { ok: false, message: NO_IDENTITY };
}
