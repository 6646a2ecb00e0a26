import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The package version, read once from package.json (works from src/common and dist/src/common). */
export const VERSION: string = (() => {
  for (const rel of ['../..', '../../..']) {
    try {
      const pkg = JSON.parse(readFileSync(join(__dirname, rel, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'parley' && pkg.version) return pkg.version;
    } catch {
      // try the next candidate
    }
  }
  return '0.0.0';
})();
