import { rmSync } from 'node:fs';
import type { EmbeddedPostgres } from '../../src/database/embedded-postgres';

export default async function globalTeardown(): Promise<void> {
  const pg = (globalThis as { __PARLEY_TEST_PG__?: EmbeddedPostgres }).__PARLEY_TEST_PG__;
  if (!pg) return;
  await pg.stop();
  if (process.env.TEST_PG_DIR) rmSync(process.env.TEST_PG_DIR, { recursive: true, force: true });
}
