import type { DataSource, QueryRunner } from 'typeorm';
import { ParleyError } from '../common';
import { ContentId } from './domain/content-id';
import { checkMovedDigest, leftoverCopy, MoveTally, nextBatchSize, otherStore, type MoveSummary, type PayloadStoreName } from './domain/payload-move';
import type { ObjectPayloads } from './object-payloads';
import { PayloadCopies, type MovingBlob } from './payload-copy';
import { PostgresPayloads } from './postgres-payloads';
import { sql } from './sql';

/** Blobs claimed per query. */
const BATCH = 16;
/** pg_advisory_lock key of a running mover: one per database. */
const MOVER_LOCK = 'parley.migrate-payloads';

export interface MoveOptions {
  /** Move at most this many blobs (undefined: all). */
  readonly limit?: number;
  /** Bytes read from the source as they are copied (progress). */
  readonly onBytes?: (n: number) => void;
}

/** What would move: blobs and bytes still in the source backend (at most `limit` blobs). */
export interface MovePending {
  readonly blobs: number;
  readonly bytes: number;
}

/**
 * Moves committed payloads from one backend to the other while gateways keep serving them
 * (`parley migrate-payloads`). Per blob: `copy_in` marks the target's copy before it is
 * written; the bytes are copied, read back from the target and hashed against the record's
 * CID; one UPDATE switches `backend` (only if the blob is still committed in the source:
 * a Delete meanwhile wins) and marks the source's copy, which is then removed. Reads started
 * before the switch finish from the new backend (RoutedPayloads.read). A killed run leaves
 * at most one blob with a second copy: the next run removes it first and moves it again.
 */
export class PayloadMover {
  private readonly copies: PayloadCopies;

  constructor(
    private readonly ds: DataSource,
    objects: ObjectPayloads,
    readonly to: PayloadStoreName,
  ) {
    this.copies = new PayloadCopies(ds, new PostgresPayloads(ds), objects);
  }

  get from(): PayloadStoreName {
    return otherStore(this.to);
  }

  /** Blobs (and their bytes) that a run with `limit` would move. */
  async pending(limit?: number): Promise<MovePending> {
    const { rows } = await sql<{ blobs: string; bytes: string | null }>(
      this.ds,
      `SELECT count(*) AS blobs, sum(size) AS bytes FROM (
         SELECT b.size FROM store_blobs b JOIN store_records r ON r.blob_id = b.id
          WHERE b.backend = $1 AND b.state = 'committed' ORDER BY b.id LIMIT $2) p`,
      [this.from, limit ?? null],
    );
    return { blobs: Number(rows[0]?.blobs ?? 0), bytes: Number(rows[0]?.bytes ?? 0) };
  }

  /** Counts what a run would move; changes nothing. */
  async dryRun(limit?: number): Promise<MoveSummary> {
    const tally = new MoveTally(this.to, true);
    const { blobs, bytes } = await this.pending(limit);
    tally.moved = blobs;
    tally.bytes = bytes;
    return tally.summary((await this.pending()).blobs);
  }

  /**
   * Removes what a stopped run left, then moves blobs in id order until none is left in the
   * source (or `limit` moved). Holds the database's mover lock throughout.
   * @throws ParleyError conflict when another run holds the lock
   */
  async run(options: MoveOptions = {}): Promise<MoveSummary> {
    const tally = new MoveTally(this.to, false);
    const unlock = await this.lock();
    try {
      tally.leftovers = await this.removeLeftovers();
      let after = '0';
      for (;;) {
        const size = nextBatchSize(BATCH, options.limit, tally.moved);
        if (size === 0) break;
        const batch = await this.nextBlobs(after, size);
        if (batch.length === 0) break;
        for (const blob of batch) {
          if (options.limit !== undefined && tally.moved >= options.limit) break;
          const moved = await this.moveOne(blob, options.onBytes ?? (() => undefined));
          if (moved) {
            tally.moved++;
            tally.bytes += blob.size;
          } else tally.deleted++;
        }
        after = batch[batch.length - 1]!.id;
      }
      return tally.summary((await this.pending()).blobs);
    } finally {
      await unlock();
    }
  }

  /** Moves one blob; false when its record was deleted meanwhile (its copy removed). */
  async moveOne(blob: MovingBlob, onBytes: (n: number) => void): Promise<boolean> {
    const { from, to } = this;
    const marked = await sql(this.ds, `UPDATE store_blobs SET copy_in = $2 WHERE id = $1 AND backend = $3 AND state = 'committed' AND copy_in IS NULL`, [blob.id, to, from]);
    if (marked.count !== 1) return false;
    try {
      const copied = await this.copies.copy(blob, from, onBytes);
      checkMovedDigest(blob.id, from, blob.digest, copied.sha256, blob.size, copied.bytes);
      const back = await this.copies.readBack(blob, to);
      checkMovedDigest(blob.id, to, blob.digest, back.sha256, blob.size, back.bytes);
    } catch (err) {
      await this.dropCopy(blob.id, to);
      if (await this.stillThere(blob.id)) throw err;
      return false; // deleted while copied: the short read was the purge's
    }
    const switched = await sql(this.ds, `UPDATE store_blobs SET backend = $2, copy_in = $3 WHERE id = $1 AND backend = $3 AND copy_in = $2 AND state = 'committed'`, [blob.id, to, from]);
    if (switched.count !== 1) {
      await this.dropCopy(blob.id, to);
      return false;
    }
    await this.dropCopy(blob.id, from);
    return true;
  }

  /** Removes the copy in `where` and clears the mark (a Delete may have removed the row: fine). */
  private async dropCopy(blobId: string, where: PayloadStoreName): Promise<void> {
    await this.copies.remove(blobId, where);
    await sql(this.ds, 'UPDATE store_blobs SET copy_in = NULL WHERE id = $1 AND copy_in = $2', [blobId, where]);
  }

  private async stillThere(blobId: string): Promise<boolean> {
    const { rows } = await sql(this.ds, `SELECT 1 FROM store_blobs WHERE id = $1 AND state = 'committed'`, [blobId]);
    return rows.length > 0;
  }

  /** Second copies of a stopped run (either direction): never the copy reads use. */
  private async removeLeftovers(): Promise<number> {
    const { rows } = await sql<{ id: string; backend: PayloadStoreName; copy_in: PayloadStoreName | null }>(this.ds, 'SELECT id, backend, copy_in FROM store_blobs WHERE copy_in IS NOT NULL ORDER BY id');
    let removed = 0;
    for (const row of rows) {
      const copy = leftoverCopy({ backend: row.backend, copyIn: row.copy_in });
      if (copy === undefined) continue;
      await this.dropCopy(String(row.id), copy);
      removed++;
    }
    return removed;
  }

  private async nextBlobs(after: string, limit: number): Promise<MovingBlob[]> {
    const { rows } = await sql<{ id: string; size: string; chunk_bytes: number; cid: string }>(
      this.ds,
      `SELECT b.id, b.size, b.chunk_bytes, r.cid FROM store_blobs b JOIN store_records r ON r.blob_id = b.id
        WHERE b.backend = $1 AND b.state = 'committed' AND b.id > $2 ORDER BY b.id LIMIT $3`,
      [this.from, after, limit],
    );
    return rows.map((r) => ({ id: String(r.id), size: Number(r.size), chunkBytes: r.chunk_bytes, digest: ContentId.parse(r.cid).digest }));
  }

  /** The database's mover lock on a connection of its own (a killed run's ends with its connection). */
  private async lock(): Promise<() => Promise<void>> {
    const runner: QueryRunner = this.ds.createQueryRunner();
    await runner.connect();
    try {
      const rows = (await runner.query('SELECT pg_try_advisory_lock(hashtext($1)) AS locked', [MOVER_LOCK])) as Array<{ locked: boolean }>;
      if (rows[0]?.locked !== true) throw new ParleyError('conflict', 'migrate-payloads: another migrate-payloads run is moving payloads of this database; wait for it to finish');
    } catch (err) {
      await runner.release();
      throw err;
    }
    return async () => {
      await runner.query('SELECT pg_advisory_unlock(hashtext($1))', [MOVER_LOCK]).catch(() => undefined);
      await runner.release();
    };
  }
}
