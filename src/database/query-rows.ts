/** Reading the rows of a statement run in a transaction (TypeORM's EntityManager). */
import type { EntityManager } from 'typeorm';
import { ParleyError } from '../common';

/** Rows of a statement run in the transaction of `m` (INSERT/DELETE … RETURNING included). */
export async function queryRows<T>(m: EntityManager, text: string, params: unknown[]): Promise<T[]> {
  const runner = m.queryRunner;
  if (runner === undefined) throw new ParleyError('internal', 'database: no transaction runner');
  const result = (await runner.query(text, params, true)) as { records?: unknown };
  return Array.isArray(result.records) ? (result.records as T[]) : [];
}
