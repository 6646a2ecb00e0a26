import type { DataSource } from 'typeorm';
import { notifyChange } from '../database';
import { inTransaction, sql, sqlOn } from '../store';
import type { ExportDefinition } from './domain/export';

/** NOTIFY channel of export changes (every replica reloads its exports). */
export const SYNC_EXPORTS_CHANNEL = 'parley_sync_exports';

export interface StoredExport {
  readonly definition: ExportDefinition;
  readonly createdBy: string;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

interface Row {
  id: string;
  definition: ExportDefinition;
  created_by: string;
  created_at: Date;
  updated_at: Date;
}

const toStored = (r: Row): StoredExport => ({ definition: r.definition, createdBy: r.created_by, createdAt: new Date(r.created_at), updatedAt: new Date(r.updated_at) });

/** Exports in PostgreSQL; every write notifies the other replicas inside its transaction. */
export class ExportRepository {
  constructor(private readonly ds: DataSource) {}

  async all(): Promise<StoredExport[]> {
    const { rows } = await sql<Row>(this.ds, 'SELECT * FROM sync_exports ORDER BY id');
    return rows.map(toStored);
  }

  async get(id: string): Promise<StoredExport | undefined> {
    const { rows } = await sql<Row>(this.ds, 'SELECT * FROM sync_exports WHERE id = $1', [id]);
    return rows[0] === undefined ? undefined : toStored(rows[0]);
  }

  /** Creates or replaces an export (validated by the caller); `created` tells which. */
  async put(definition: ExportDefinition, by: string): Promise<{ stored: StoredExport; created: boolean }> {
    return inTransaction(this.ds, async (runner) => {
      const { rows } = await sqlOn<Row & { inserted: boolean }>(
        runner,
        `INSERT INTO sync_exports (id, definition, created_by) VALUES ($1, $2::jsonb, $3)
         ON CONFLICT (id) DO UPDATE SET definition = EXCLUDED.definition, updated_at = now()
         RETURNING *, (xmax = 0) AS inserted`,
        [definition.id, JSON.stringify(definition), by],
      );
      await notifyChange(runner, SYNC_EXPORTS_CHANNEL, definition.id);
      return { stored: toStored(rows[0]), created: rows[0].inserted };
    });
  }

  /** False when there was no such export. */
  async remove(id: string): Promise<boolean> {
    return inTransaction(this.ds, async (runner) => {
      const { count } = await sqlOn(runner, 'DELETE FROM sync_exports WHERE id = $1', [id]);
      if (count > 0) await notifyChange(runner, SYNC_EXPORTS_CHANNEL, id);
      return count > 0;
    });
  }
}
