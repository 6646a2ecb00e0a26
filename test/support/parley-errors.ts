import { ParleyError } from '../../src/common/errors';

/** The ParleyError code fn throws, undefined when it returns: for table tests that assert codes. */
export function parleyCodeOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    return ParleyError.is(err) ? err.code : 'not a ParleyError';
  }
}
