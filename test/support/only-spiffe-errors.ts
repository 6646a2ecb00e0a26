import { SpiffeError } from '../../src/spiffe';

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
