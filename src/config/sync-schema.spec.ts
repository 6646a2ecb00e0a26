import { syncSchema } from './sync-schema';

describe('sync config', () => {
  it('defaults: 30 s lease, 60 s idle timeout, 10 s stop grace, retries 1 s … 60 s over 8 attempts', () => {
    expect(syncSchema.parse({})).toMatchObject({ lease: 30_000, pollInterval: 2_000, idleTimeout: 60_000, stopGrace: 10_000, retry: { initialBackoff: 1_000, maxBackoff: 60_000, maxAttempts: 8 } });
  });

  it('takes durations as text', () => {
    expect(syncSchema.parse({ lease: '5s', retry: { initialBackoff: '250ms', maxBackoff: '2m', maxAttempts: 3 } })).toMatchObject({ lease: 5_000, retry: { initialBackoff: 250, maxBackoff: 120_000, maxAttempts: 3 } });
  });

  it('refuses a lease under 3 s, a max backoff under the initial one, and unknown keys, naming each', () => {
    const result = syncSchema.safeParse({ lease: '1s', retry: { initialBackoff: '10s', maxBackoff: '1s' }, leese: 1 });
    expect(result.success).toBe(false);
    const issues = result.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    expect(issues).toEqual(expect.arrayContaining([expect.stringMatching(/^lease: must be at least 3s/), expect.stringMatching(/leese/)]));
    expect(syncSchema.safeParse({ retry: { initialBackoff: '10s', maxBackoff: '1s' } }).error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`)).toEqual(['retry.maxBackoff: must be at least sync.retry.initialBackoff']);
  });
});
