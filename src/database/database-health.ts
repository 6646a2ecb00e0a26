import type { DataSource } from 'typeorm';
import { Gauge, type Registry } from 'prom-client';
import type { CheckResult } from '../ops';
import { pendingMigrations, reasonOf } from './data-source';
import type { DatabaseMonitor } from './database-monitor';

/**
 * Readiness: the database answers and every migration of this build is applied. With a
 * monitor, "answers" is the monitor's probe, run now, so /readyz and gRPC Health agree.
 */
export function databaseReadinessCheck(ds: DataSource, monitor?: DatabaseMonitor): () => Promise<CheckResult> {
  return async () => {
    if (monitor !== undefined) {
      const state = await monitor.check();
      if (!state.up) return { ok: false, reason: `database unreachable: ${state.reason}` };
    } else {
      try {
        await ds.query('SELECT 1');
      } catch (err) {
        return { ok: false, reason: `database unreachable: ${reasonOf(err)}` };
      }
    }
    const pending = await pendingMigrations(ds);
    if (pending.length > 0) return { ok: false, reason: `database not migrated: ${pending.length} pending (${pending.join(', ')})` };
    return { ok: true };
  };
}

interface PoolLike {
  totalCount: number;
  idleCount: number;
  waitingCount: number;
}

/** Pool gauges read at scrape time from the node-postgres pool behind TypeORM. */
export function registerPoolMetrics(ds: DataSource, registry: Registry): void {
  new Gauge({
    name: 'parley_db_pool_connections',
    help: 'Database pool connections by state',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const pool = (ds.driver as unknown as { master?: PoolLike }).master;
      if (!pool) return;
      this.set({ state: 'total' }, pool.totalCount);
      this.set({ state: 'idle' }, pool.idleCount);
      this.set({ state: 'waiting' }, pool.waitingCount);
    },
  });
}
