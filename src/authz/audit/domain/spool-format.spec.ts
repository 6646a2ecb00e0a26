import { crc32 } from 'node:zlib';
import { decodeSpoolChunk, decodeSpoolLine, encodeSpoolLine, MAX_SPOOL_LINE_BYTES, type SpooledDecision } from './spool-format';
import { entryIdAt } from './entry-id';

function decision(i: number, extra: Partial<SpooledDecision> = {}): SpooledDecision {
  return {
    entryId: entryIdAt(1_700_000_000_000 + i, 'f81d4fae-7dec-41d0-a765-00a0c91e6bf6'),
    at: new Date(1_700_000_000_000 + i),
    spiffeId: `spiffe://p.test/w/${i}`,
    trustDomain: 'p.test',
    sourceAddress: '127.0.0.1',
    method: '/parley.store.v1.StoreService/Pull',
    decision: i % 2 === 0 ? 'allow' : 'deny',
    reason: `reason ${i}`,
    ...extra,
  };
}

const joined = (...lines: Buffer[]): Buffer => Buffer.concat(lines);

describe('audit spool line format', () => {
  it('round-trips every field, one line ending in a newline', () => {
    const full = decision(1, { namespace: 'ml/models', rule: 'deny-intruder', dryRunDenied: ['dry-1', 'dry-2'], reason: 'denied: "quoted"\nnewline ✓' });
    const line = encodeSpoolLine(full);
    expect(line[line.length - 1]).toBe(0x0a);
    expect(line.subarray(0, line.length - 1).includes(0x0a)).toBe(false);
    expect(decodeSpoolLine(line.subarray(0, line.length - 1))).toEqual(full);
    expect(decodeSpoolLine(encodeSpoolLine(decision(2)).subarray(0, -1))).toEqual(decision(2));
  });

  it('reads lines in order and reports where the next read starts', () => {
    const chunk = joined(encodeSpoolLine(decision(1)), encodeSpoolLine(decision(2)), encodeSpoolLine(decision(3)));
    const all = decodeSpoolChunk(chunk, true);
    expect(all.entries.map((e) => e.reason)).toEqual(['reason 1', 'reason 2', 'reason 3']);
    expect(all).toMatchObject({ consumed: chunk.length, skipped: [] });
    const two = decodeSpoolChunk(chunk, true, 2);
    expect(two.entries.map((e) => e.reason)).toEqual(['reason 1', 'reason 2']);
    expect(decodeSpoolChunk(chunk.subarray(two.consumed), true).entries.map((e) => e.reason)).toEqual(['reason 3']);
  });

  it('skips a torn last line at the end of the file, with its offset', () => {
    const first = encodeSpoolLine(decision(1));
    const torn = encodeSpoolLine(decision(2)).subarray(0, 40);
    const read = decodeSpoolChunk(joined(first, torn), true);
    expect(read.entries.map((e) => e.reason)).toEqual(['reason 1']);
    expect(read.skipped).toEqual([{ offset: first.length, problem: 'torn' }]);
    expect(read.consumed).toBe(first.length + torn.length);
  });

  it('leaves an incomplete last line for the next read when the chunk does not reach the end of the file', () => {
    const first = encodeSpoolLine(decision(1));
    const read = decodeSpoolChunk(joined(first, encodeSpoolLine(decision(2)).subarray(0, 40)), false);
    expect(read).toMatchObject({ consumed: first.length, skipped: [] });
    expect(read.entries).toHaveLength(1);
  });

  it.each([
    ['bad checksum', (l: Buffer) => Buffer.concat([Buffer.from('00000000'), l.subarray(8)])],
    ['bad checksum', (l: Buffer) => Buffer.concat([l.subarray(0, 20), Buffer.from('X'), l.subarray(21)])],
    ['bad checksum', () => Buffer.from('\u0000'.repeat(64) + '\n')],
    ['bad checksum', () => Buffer.from('\n')],
  ] as const)('skips a line in the middle with %s and reads the lines after it', (problem, damage) => {
    const [a, b, c] = [encodeSpoolLine(decision(1)), damage(encodeSpoolLine(decision(2))), encodeSpoolLine(decision(3))];
    const read = decodeSpoolChunk(joined(a, b, c), true);
    expect(read.entries.map((e) => e.reason)).toEqual(['reason 1', 'reason 3']);
    expect(read.skipped).toEqual([{ offset: a.length, problem }]);
  });

  it('refuses lines whose checksum is right but whose content is not an entry', () => {
    const withChecksum = (json: string) => {
      const body = Buffer.from(json);
      return Buffer.concat([Buffer.from(`${(crc32(body) >>> 0).toString(16).padStart(8, '0')} `), body]);
    };
    const valid = JSON.parse(encodeSpoolLine(decision(1)).subarray(9).toString()) as Record<string, unknown>;
    expect(decodeSpoolLine(withChecksum('{"v":1'))).toBe('not json');
    expect(decodeSpoolLine(withChecksum('[1,2]'))).toBe('not an entry');
    expect(decodeSpoolLine(withChecksum(JSON.stringify({ ...valid, v: 2 })))).toBe('not an entry');
    expect(decodeSpoolLine(withChecksum(JSON.stringify({ ...valid, id: 'not-a-uuid' })))).toBe('not an entry');
    expect(decodeSpoolLine(withChecksum(JSON.stringify({ ...valid, decision: 'maybe' })))).toBe('not an entry');
    expect(decodeSpoolLine(withChecksum(JSON.stringify({ ...valid, at: 'yesterday' })))).toBe('not an entry');
    expect(decodeSpoolLine(withChecksum(JSON.stringify({ ...valid, at: 1e20 })))).toBe('not an entry');
    expect(decodeSpoolLine(withChecksum(JSON.stringify({ ...valid, rule: 7 })))).toBe('not an entry');
    expect(decodeSpoolLine(withChecksum(JSON.stringify({ ...valid, dryRunDenied: [1] })))).toBe('not an entry');
    expect(decodeSpoolLine(withChecksum(JSON.stringify(valid)))).toEqual(decision(1));
  });

  it('cuts an entry that would make an over-long line so every line fits', () => {
    const huge = decision(1, { reason: '\u0000'.repeat(200_000), dryRunDenied: Array.from({ length: 64 }, (_, i) => `${i}`.repeat(4096)) });
    const line = encodeSpoolLine(huge);
    expect(line.length).toBeLessThanOrEqual(MAX_SPOOL_LINE_BYTES);
    const back = decodeSpoolLine(line.subarray(0, -1)) as SpooledDecision;
    expect(back.reason).toHaveLength(1024);
    expect(back.dryRunDenied).toHaveLength(8);
    expect(back.entryId).toBe(huge.entryId);
  });

  it('skips a line longer than any the spool writes, without waiting for its end', () => {
    const garbage = Buffer.alloc(MAX_SPOOL_LINE_BYTES + 10, 0x41);
    expect(decodeSpoolChunk(garbage, false).skipped).toEqual([{ offset: 0, problem: 'too long' }]);
    const read = decodeSpoolChunk(joined(garbage, Buffer.from('\n'), encodeSpoolLine(decision(5))), true);
    expect(read.skipped).toEqual([{ offset: 0, problem: 'too long' }]);
    expect(read.entries.map((e) => e.reason)).toEqual(['reason 5']);
  });
});
