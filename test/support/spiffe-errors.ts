import { SpiffeError, type SpiffeErrorCode } from '../../src/spiffe';

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
