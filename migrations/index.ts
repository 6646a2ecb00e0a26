import { Init1763900000000 } from './1763900000000-Init';
import { Store1764200000000 } from './1764200000000-Store';

/** Every migration, in order. Listed explicitly so the same list works compiled and in tests. */
export const MIGRATIONS = [Init1763900000000, Store1764200000000];
