import { ParleyError } from '../../common/errors';
import { checkMovedDigest, describeMove, leftoverCopy, MoveTally, nextBatchSize, parseMoveLimit, parseMoveTarget } from './payload-move';

describe('payload moves: planning', () => {
  it('--to names the target; the source is the other backend', () => {
    expect(parseMoveTarget('s3')).toEqual({ to: 's3', from: 'postgres' });
    expect(parseMoveTarget('postgres')).toEqual({ to: 'postgres', from: 's3' });
    for (const bad of ['S3', 'pg', '', undefined, 3]) {
      expect(() => parseMoveTarget(bad)).toThrow(ParleyError);
      try {
        parseMoveTarget(bad);
      } catch (err) {
        expect((err as ParleyError).code).toBe('invalid_argument');
      }
    }
  });

  it.each([
    ['no second copy', { backend: 'postgres', copyIn: null }, undefined],
    ['killed before the switch: the target copy', { backend: 'postgres', copyIn: 's3' }, 's3'],
    ['killed after the switch: the source copy', { backend: 's3', copyIn: 'postgres' }, 'postgres'],
    ['never the copy reads use', { backend: 's3', copyIn: 's3' }, undefined],
  ] as const)('leftover of a stopped run: %s', (_name, blob, expected) => {
    expect(leftoverCopy(blob)).toBe(expected);
  });

  it('batches never take more than --limit leaves', () => {
    expect(nextBatchSize(16, undefined, 1000)).toBe(16);
    expect(nextBatchSize(16, 40, 0)).toBe(16);
    expect(nextBatchSize(16, 40, 32)).toBe(8);
    expect(nextBatchSize(16, 40, 40)).toBe(0);
    expect(nextBatchSize(16, 40, 45)).toBe(0);
    expect(() => nextBatchSize(0, undefined, 0)).toThrow(TypeError);
  });

  it('--limit is a positive integer', () => {
    expect(parseMoveLimit(undefined)).toBeUndefined();
    expect(parseMoveLimit('25')).toBe(25);
    for (const bad of ['0', '-1', '1.5', 'ten', '']) expect(() => parseMoveLimit(bad)).toThrow(/--limit must be a positive integer/);
  });

  it('a copy is only switched to when its bytes read back match the digest and the size', () => {
    const digest = Buffer.alloc(32, 7);
    expect(() => checkMovedDigest('12', 's3', digest, Buffer.from(digest), 100, 100)).not.toThrow();
    expect(() => checkMovedDigest('12', 's3', digest, Buffer.alloc(32, 8), 100, 100)).toThrow(/blob 12 read back from s3 does not match its digest/);
    expect(() => checkMovedDigest('12', 'postgres', digest, digest, 100, 99)).toThrow(/has 99 bytes, expected 100/);
  });

  it('the summary says what moved, what is left and what a stopped run left behind', () => {
    const tally = new MoveTally('s3', false);
    tally.moved = 3;
    tally.bytes = 3072;
    tally.leftovers = 1;
    const fmt = (n: number) => `${n} B`;
    expect(describeMove(tally.summary(2), fmt)).toBe('moved 3 payloads (3072 B) to s3; 2 left in postgres (1 leftover copy of a stopped run removed)');
    const dry = new MoveTally('postgres', true);
    dry.moved = 1;
    dry.bytes = 5;
    expect(describeMove(dry.summary(1), fmt)).toBe('would move 1 payload (5 B) from s3 to postgres');
    expect(tally.summary(2)).toEqual({ to: 's3', dryRun: false, moved: 3, bytes: 3072, deleted: 0, leftovers: 1, remaining: 2 });
  });
});
