import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as protoLoader from '@grpc/proto-loader';

/** proto-loader options used for every Parley proto: field names as written, enums as strings. */
export const PROTO_LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
};

/**
 * Absolute path of a file under the repository's `proto/` folder, found by walking up from
 * this module: works from `src/grpc` (tests, ts) and from `dist/src/grpc` (built).
 */
export function protoFile(relative: string): string {
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'proto', relative);
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new Error(`proto file not found: proto/${relative}`);
}

/** Loads a proto under `proto/` (imports resolve from `proto/` too). */
export function loadProto(relative: string): protoLoader.PackageDefinition {
  const file = protoFile(relative);
  const root = file.slice(0, file.length - relative.length - 1);
  return protoLoader.loadSync(relative, { ...PROTO_LOADER_OPTIONS, includeDirs: [root] });
}
