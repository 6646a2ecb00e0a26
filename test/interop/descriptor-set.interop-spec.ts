import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DESCRIPTOR_SET, INTEROP_DIR, run } from './support/peers';

/** The committed descriptor set is exactly what protoc (pinned grpcio-tools) makes of proto/ today. */
describe('proto/descriptor-set.binpb against the .proto files', () => {
  it('recompiles byte for byte with protoc', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-descriptors-'));
    try {
      const fresh = join(dir, 'set.binpb');
      const r = await run('bash', [resolve(INTEROP_DIR, 'gen-descriptors.sh'), fresh]);
      expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
      expect(readFileSync(fresh).equals(readFileSync(DESCRIPTOR_SET))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
