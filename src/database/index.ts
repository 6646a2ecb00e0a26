/** Public API of the database context: the pool, its supervision, the change feed. */
export { ChangeFeed } from './change-feed';
export { Database, openDatabase } from './database';
export { DatabaseModule } from './database.module';
export { connectDataSource, runMigrations } from './data-source';
export type { ChangeEvent } from './change-feed';
export { notifyChange } from './change-feed';
export { reasonOf } from './data-source';
export { queryRows } from './query-rows';
