import * as path from 'node:path';
import { VECTORS, readTsv } from './spiffe-vectors';

/** A user's clone has only the repository: the vectors must live inside it. */
describe('SPIFFE conformance vectors', () => {
  const root = path.resolve(__dirname, '../..');

  it('are read from inside the repository', () => {
    const relative = path.relative(root, VECTORS);
    expect(relative.startsWith('..')).toBe(false);
    expect(path.isAbsolute(relative)).toBe(false);
  });

  it('carry their manifest with the provenance of every file', () => {
    const rows = readTsv('MANIFEST.tsv');
    expect(rows.length).toBeGreaterThan(30);
    for (const row of rows) expect(row.source_repo).not.toBe('');
  });
});
