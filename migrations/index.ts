import { Init1763900000000 } from './1763900000000-Init';

/** Every migration, in order. Listed explicitly so the same list works compiled and in tests. */
export const MIGRATIONS = [Init1763900000000];
