import * as fs from 'node:fs';
import * as path from 'node:path';

/** The SPIFFE conformance vectors, kept in the repository (provenance: test/fixtures/spiffe/README.md and MANIFEST.tsv). */
export const VECTORS = path.resolve(__dirname, '../fixtures/spiffe/vectors');
if (!fs.existsSync(path.join(VECTORS, 'MANIFEST.tsv'))) {
  throw new Error(`SPIFFE conformance vectors not found at ${VECTORS}`);
}

export const readVector = (name: string): Buffer => fs.readFileSync(path.join(VECTORS, name));
export const readVectorText = (name: string): string => readVector(name).toString('utf8');

/** A tab-separated vector file as one record per row, keyed by the header's column names. */
export function readTsv(name: string): Record<string, string>[] {
  const [header, ...lines] = readVectorText(name).split('\n').filter((l) => l.length > 0);
  const cols = header.split('\t');
  return lines.map((line) => {
    const cells = line.split('\t');
    return Object.fromEntries(cols.map((c, i) => [c, cells[i] ?? '']));
  });
}
