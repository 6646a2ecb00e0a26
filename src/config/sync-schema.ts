import { z } from 'zod';
import { duration } from './duration';

const bounded = (min: number, max: number, minText: string, maxText: string) => duration.pipe(z.number().min(min, `must be at least ${minText}`).max(max, `must be at most ${maxText}`));

/** Sync (src/sync): the grants this gateway issues, the syncs its worker runs. */
export const syncSchema = z
  .strictObject({
    /** Lifetime of a grant (RequestRegistryCredentials): at least 60 s, at most 15 min. */
    grantTtl: bounded(60_000, 900_000, '60s', '15m').default(300_000),
    /** Syncs this replica runs at once. */
    maxConcurrent: z.number().int().min(1).max(64).default(2),
    /** Records one sync copies at once (each its own Pull from the partner and upload into the store). */
    recordsInFlight: z.number().int().min(1).max(16).default(2),
    /** Syncs of one partner running at once over all replicas. */
    perPartner: z.number().int().min(1).max(64).default(2),
    /** A worker's lease on a sync, renewed every third of it; a killed replica's syncs are taken over once it lapses. */
    lease: bounded(3_000, 600_000, '3s', '10m').default(30_000),
    /** How often a replica looks for syncs to run (new ones on this replica start at once). */
    pollInterval: bounded(100, 300_000, '100ms', '5m').default(2_000),
    /** A transfer from the partner that sends nothing for this long is abandoned (TIMEOUT) and retried. */
    idleTimeout: bounded(1_000, 3_600_000, '1s', '1h').default(60_000),
    /** On shutdown, how long running syncs may take to reach a record boundary before their transfer is cut (it resumes later). */
    stopGrace: bounded(0, 300_000, '0s', '5m').default(10_000),
    /** Retries after transient failures (unreachable, timeout, expired grant): exponential backoff with jitter. */
    retry: z
      .strictObject({
        initialBackoff: bounded(100, 3_600_000, '100ms', '1h').default(1_000),
        maxBackoff: bounded(100, 86_400_000, '100ms', '1d').default(60_000),
        /** Failed attempts in a row after which the sync is FAILED. */
        maxAttempts: z.number().int().min(1).max(1000).default(8),
      })
      .prefault({}),
  })
  .superRefine((cfg, ctx) => {
    if (cfg.retry.maxBackoff < cfg.retry.initialBackoff) ctx.addIssue({ code: 'custom', path: ['retry', 'maxBackoff'], message: 'must be at least sync.retry.initialBackoff' });
  });
