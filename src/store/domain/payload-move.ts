import { ParleyError } from '../../common/errors';

/**
 * The pure half of moving payloads between backends (`parley migrate-payloads`): which
 * backend is the target, what a killed run left behind, how many blobs the next batch
 * claims, and the run's tally. The database and object-store work is payload-mover.ts.
 */
export type PayloadStoreName = 'postgres' | 's3';

const NAMES: readonly PayloadStoreName[] = ['postgres', 's3'];

/** The backend payloads move to (`--to`); the source is the other one. */
export function parseMoveTarget(text: unknown): { to: PayloadStoreName; from: PayloadStoreName } {
  const to = NAMES.find((n) => n === text);
  if (to === undefined) throw new ParleyError('invalid_argument', `migrate-payloads: --to must be postgres or s3, not ${JSON.stringify(String(text)).slice(0, 40)}`);
  return { to, from: otherStore(to) };
}

export function otherStore(name: PayloadStoreName): PayloadStoreName {
  return name === 'postgres' ? 's3' : 'postgres';
}

/** Where a blob's bytes are: `backend` serves reads; `copyIn` holds a second copy while it is moved. */
export interface BlobPlacement {
  readonly backend: PayloadStoreName;
  readonly copyIn: PayloadStoreName | null;
}

/**
 * The copy a run removes before it moves anything: a second copy is never the one reads
 * use (`backend`), whether it is a target's copy not switched to (killed before the switch)
 * or the source's copy not yet removed (killed after it). Undefined: nothing to remove.
 */
export function leftoverCopy(blob: BlobPlacement): PayloadStoreName | undefined {
  return blob.copyIn === null || blob.copyIn === blob.backend ? undefined : blob.copyIn;
}

/** How many blobs the next batch takes: `batch`, no more than the `--limit` leaves (undefined: no limit). */
export function nextBatchSize(batch: number, limit: number | undefined, moved: number): number {
  if (!Number.isSafeInteger(batch) || batch < 1) throw new TypeError('nextBatchSize: batch must be a positive integer');
  if (limit === undefined) return batch;
  return Math.max(0, Math.min(batch, limit - moved));
}

/** `--limit N`: a positive integer. */
export function parseMoveLimit(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^[0-9]{1,15}$/.test(text) || Number(text) < 1) throw new ParleyError('invalid_argument', `migrate-payloads: --limit must be a positive integer, not ${JSON.stringify(text).slice(0, 40)}`);
  return Number(text);
}

/** Compares the digest of the bytes read back from the target with the record's. */
export function checkMovedDigest(blobId: string, to: PayloadStoreName, expected: Uint8Array, actual: Uint8Array, size: number, bytes: number): void {
  if (bytes !== size) throw new ParleyError('internal', `migrate-payloads: blob ${blobId} read back from ${to} has ${bytes} bytes, expected ${size}; its source copy stays in use`);
  if (!Buffer.from(expected).equals(Buffer.from(actual))) throw new ParleyError('internal', `migrate-payloads: blob ${blobId} read back from ${to} does not match its digest; its source copy stays in use`);
}

/** What one run did, for the summary line and `--json`. */
export interface MoveSummary {
  readonly to: PayloadStoreName;
  readonly dryRun: boolean;
  /** Blobs switched to the target (dry run: that would be). */
  readonly moved: number;
  readonly bytes: number;
  /** Blobs whose record was deleted while they were copied (their copy was removed). */
  readonly deleted: number;
  /** Second copies a killed run left, removed first. */
  readonly leftovers: number;
  /** Blobs still on the source after this run (dry run: before it). */
  readonly remaining: number;
}

/** The run's counts as they grow. */
export class MoveTally {
  moved = 0;
  bytes = 0;
  deleted = 0;
  leftovers = 0;

  constructor(
    readonly to: PayloadStoreName,
    readonly dryRun: boolean,
  ) {}

  summary(remaining: number): MoveSummary {
    return { to: this.to, dryRun: this.dryRun, moved: this.moved, bytes: this.bytes, deleted: this.deleted, leftovers: this.leftovers, remaining };
  }
}

/** "moved 12 payloads (1.5 GiB) to s3; 0 left in postgres" (sizes formatted by the caller). */
export function describeMove(s: MoveSummary, formatBytes: (n: number) => string): string {
  const from = otherStore(s.to);
  const what = `${s.moved} payload${s.moved === 1 ? '' : 's'} (${formatBytes(s.bytes)})`;
  if (s.dryRun) return `would move ${what} from ${from} to ${s.to}`;
  const extra = [s.deleted > 0 ? `${s.deleted} deleted while moved` : '', s.leftovers > 0 ? `${s.leftovers} leftover cop${s.leftovers === 1 ? 'y' : 'ies'} of a stopped run removed` : ''].filter(Boolean);
  return `moved ${what} to ${s.to}; ${s.remaining} left in ${from}${extra.length > 0 ? ` (${extra.join(', ')})` : ''}`;
}
