import { SpiffeError, type SpiffeErrorCode } from '../../src/spiffe';
import fc from 'fast-check';

/** For property tests: true when fn returned or threw a SpiffeError; any other throw fails the property with its cause. */
export function onlySpiffeErrors(fn: () => unknown): boolean {
  try {
    fn();
    return true;
  } catch (err) {
    if (err instanceof SpiffeError) return true;
    throw new Error(`non-SpiffeError thrown: ${String(err)}`, { cause: err });
  }
}

/** The SpiffeError code fn throws, or what else happened: for table tests that assert codes. */
export function codeOf(fn: () => unknown): SpiffeErrorCode | 'no error' | 'not a SpiffeError' {
  try {
    fn();
    return 'no error';
  } catch (err) {
    return err instanceof SpiffeError ? err.code : 'not a SpiffeError';
  }
}

/** The SpiffeError fn throws; anything else (or no throw) fails the test. */
export function errorOf(fn: () => unknown): SpiffeError {
  try {
    fn();
  } catch (err) {
    if (err instanceof SpiffeError) return err;
    throw err;
  }
  throw new Error('expected a SpiffeError');
}

/** fast-check: copies of base() with a few bytes overwritten and sometimes truncated. */
export function mutated(base: () => Buffer): fc.Arbitrary<Buffer> {
  return fc
    .tuple(
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
      fc.option(fc.nat(), { freq: 4 }),
    )
    .map(([edits, cut]) => {
      const b = Buffer.from(base());
      for (const [pos, byte] of edits) b[pos % b.length] = byte;
      return cut === null ? b : b.subarray(0, cut % b.length);
    });
}
