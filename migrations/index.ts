import { Init1763900000000 } from './1763900000000-Init';
import { Store1764200000000 } from './1764200000000-Store';
import { Audit1764300000000 } from './1764300000000-Audit';
import { Policies1764300100000 } from './1764300100000-Policies';
import { Revocations1764300200000 } from './1764300200000-Revocations';
import { Federation1764300300000 } from './1764300300000-Federation';
import { Sync1764400000000 } from './1764400000000-Sync';
import { AuditEntryId1764413040000 } from './1764413040000-AuditEntryId';
import { ObjectPayloads1764500000000 } from './1764500000000-ObjectPayloads';
import { PayloadMoves1764600000000 } from './1764600000000-PayloadMoves';
import { SyncSources1764700000000 } from './1764700000000-SyncSources';
import { SubjectlessReferrers1764800000000 } from './1764800000000-SubjectlessReferrers';
import { RegistryTags1764900000000 } from './1764900000000-RegistryTags';
import { RegistryManifests1765000000000 } from './1765000000000-RegistryManifests';

/** Every migration, in order. Listed explicitly so the same list works compiled and in tests. */
export const MIGRATIONS = [
  Init1763900000000,
  Store1764200000000,
  Audit1764300000000,
  Policies1764300100000,
  Revocations1764300200000,
  Federation1764300300000,
  Sync1764400000000,
  AuditEntryId1764413040000,
  ObjectPayloads1764500000000,
  PayloadMoves1764600000000,
  SyncSources1764700000000,
  SubjectlessReferrers1764800000000,
  RegistryTags1764900000000,
  RegistryManifests1765000000000,
];
