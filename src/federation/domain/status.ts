/**
 * The state of one federation relationship, as shown by the admin API, the CLI and metrics.
 * Pure: the clock is an argument.
 */
export type FederationState = 'pending' | 'ready' | 'stale' | 'failing';

export const FEDERATION_STATES: readonly FederationState[] = Object.freeze(['pending', 'ready', 'stale', 'failing']);

/**
 * ready: last poll succeeded; failing: last poll failed and no good bundle yet; stale: last
 * poll failed but a good bundle is held (or the held bundle is older than 2 refresh
 * intervals); pending: never polled. Pure, time passed in.
 */
export function federationState(o: {
  polls: number;
  lastSuccessAt?: Date;
  lastFailureAt?: Date;
  hasBundle: boolean;
  refreshIntervalMs: number;
  now: Date;
}): FederationState {
  const success = time(o.lastSuccessAt);
  const failure = time(o.lastFailureAt);
  if (success === undefined && failure === undefined) {
    if (!(o.polls > 0)) return 'pending';
    return o.hasBundle ? 'stale' : 'failing';
  }
  const lastFailed = failure !== undefined && (success === undefined || failure > success);
  if (lastFailed) return o.hasBundle ? 'stale' : 'failing';
  const age = o.now.getTime() - (success as number);
  return age > 2 * Math.max(0, o.refreshIntervalMs) ? 'stale' : 'ready';
}

function time(d: Date | undefined): number | undefined {
  if (!(d instanceof Date)) return undefined;
  const t = d.getTime();
  return Number.isNaN(t) ? undefined : t;
}
