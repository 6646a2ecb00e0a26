/**
 * `npm run bench`: runs every benchmark module and prints each result with its in-run
 * baseline and the ratio against it. Modules export `run(): Promise<BenchResult[]>`.
 * Numbers depend on the machine; ratios against a baseline measured in the same run are
 * what the targets in the issues refer to.
 */
import { formatValue, type BenchResult } from './bench-result';
import { loadAverage } from './proc-stats';
export type { BenchResult };

const MODULES: Array<{ name: string; load: () => Promise<{ run(): Promise<BenchResult[]> }> }> = [
  { name: 'spiffe', load: () => import('./spiffe.bench') },
  { name: 'tls', load: () => import('./tls.bench') },
  { name: 'store', load: () => import('./store.bench') },
  { name: 'store-cli', load: () => import('./store-cli.bench') },
  { name: 'authz', load: () => import('./authz.bench') },
  { name: 'sync', load: () => import('./sync.bench') },
  { name: 'registry', load: () => import('./registry.bench') },
];

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  let failed = false;
  for (const m of MODULES) {
    if (only.length > 0 && !only.includes(m.name)) continue;
    process.stdout.write(`\n== ${m.name} (load average ${loadAverage()})\n`);
    try {
      const results = await (await m.load()).run();
      for (const r of results) {
        const value = formatValue(r.value);
        const target = r.target ? ` (target ${r.target})` : '';
        const ratio = r.ratio === undefined ? target : `  ratio ${r.ratio.toFixed(2)} vs ${r.baseline}${target}`;
        process.stdout.write(`${r.name.padEnd(56)} ${value.padStart(14)} ${r.unit}${ratio}\n`);
      }
    } catch (err) {
      failed = true;
      process.stdout.write(`  failed: ${err instanceof Error ? err.message : String(err)}\n`);
    }
    // The machine's load while the module ran (other work on its cores moves every number).
    process.stdout.write(`load average after ${m.name}: ${loadAverage()}\n`);
  }
  process.exitCode = failed ? 1 : 0;
}

void main();
