import type { DataSource } from 'typeorm';
import { sql } from './sql';

/**
 * Claims for purging the blobs of `backend` that crashed processes left: staging blobs
 * untouched for `stagingTtlMs` and purges abandoned half-way for `purgeStaleMs` (marked
 * `purging` now). Safe on several replicas at once (SKIP LOCKED: a live upload's row is locked).
 */
export async function claimStaleBlobs(ds: DataSource, backend: 'postgres' | 's3', stagingTtlMs: number, purgeStaleMs: number, max: number): Promise<string[]> {
  const { rows } = await sql<{ id: string }>(
    ds,
    `UPDATE store_blobs SET state = 'purging', touched_at = now()
      WHERE id IN (SELECT id FROM store_blobs
                    WHERE backend = $4 AND ((state = 'staging' AND touched_at < now() - interval '1 millisecond' * $1::float8)
                       OR (state = 'purging' AND touched_at < now() - interval '1 millisecond' * $2::float8))
                    ORDER BY touched_at LIMIT $3 FOR UPDATE SKIP LOCKED)
      RETURNING id`,
    [stagingTtlMs, purgeStaleMs, max, backend],
  );
  return rows.map((r) => String(r.id));
}
