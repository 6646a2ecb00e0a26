/**
 * The audit spool: an append-only file in the data directory that holds decisions while the
 * database is away (src/authz/audit/domain/spool-format.ts is the line format). Appends are
 * one write and one fdatasync per batch, refused past `maxBytes`; reads go from an offset in
 * order; once everything was replayed the file is truncated. Every file operation runs one
 * at a time, in call order. A torn last line (a crash mid-write) is cut off at open, with a
 * warning, so later lines start clean.
 */
import { mkdirSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import { ParleyError } from '../../common';
import { decodeSpoolChunk, encodeSpoolLine, MAX_SPOOL_LINE_BYTES, type SpooledDecision, type SpoolLineProblem } from './domain/spool-format';
import { acquireSpoolSlot, type SpoolSlot } from './spool-lock';

export interface AuditSpoolOptions {
  /** The spool directory (authz.audit.spoolDir, by default <dataDir>/audit-spool). */
  dir: string;
  /** authz.audit.spoolMaxBytes: the file never grows past it. */
  maxBytes: number;
  logger: Logger;
  metrics: Registry;
}

/** What one read returns: entries in file order and where the next read starts. */
export interface SpoolRead {
  readonly entries: SpooledDecision[];
  readonly nextOffset: number;
  /** True when nextOffset is the end of the file. */
  readonly atEnd: boolean;
}

/** Bytes read at a time: two of the longest lines, so every read makes progress. */
const READ_BYTES = 2 * MAX_SPOOL_LINE_BYTES;
const TAIL_STEP = 64 * 1024;

export class AuditSpool {
  private size: number;
  private chain: Promise<unknown> = Promise.resolve();
  private closed = false;
  private readonly spooled: Counter;
  private readonly skippedLines: Counter<'problem'>;

  private constructor(
    private readonly file: FileHandle,
    private readonly slot: SpoolSlot,
    readonly maxBytes: number,
    size: number,
    private readonly logger: Logger,
    metrics: Registry,
  ) {
    this.size = size;
    const registers = [metrics];
    const currentBytes = (): number => this.size;
    new Gauge({
      name: 'parley_authz_audit_spool_bytes',
      help: 'Bytes in the audit spool file (decisions kept on disk while the database is away)',
      registers,
      collect() {
        this.set(currentBytes());
      },
    });
    new Gauge({ name: 'parley_authz_audit_spool_max_bytes', help: 'Bound of the audit spool file (authz.audit.spoolMaxBytes)', registers }).set(maxBytes);
    this.spooled = new Counter({ name: 'parley_authz_audit_spooled_total', help: 'Audit entries written to the spool file', registers });
    this.skippedLines = new Counter({
      name: 'parley_authz_audit_spool_skipped_lines_total',
      help: 'Unreadable spool lines skipped: torn (a crash while writing), bad checksum, not json, not an entry, too long',
      labelNames: ['problem'],
      registers,
    });
  }

  /**
   * Takes a free slot of `dir` (made 0700 if missing) and opens its spool; undefined when
   * every slot is held by a live process. Throws a ParleyError when the directory or file
   * cannot be used (the gateway then refuses to start: the audit trail would not be durable).
   */
  static async open(o: AuditSpoolOptions): Promise<AuditSpool | undefined> {
    let slot: SpoolSlot | undefined;
    try {
      mkdirSync(o.dir, { recursive: true, mode: 0o700 });
      slot = acquireSpoolSlot(o.dir);
      if (slot === undefined) return undefined;
      const file = await open(slot.spoolPath, 'a+', 0o600);
      try {
        const size = await cutTornTail(file, slot.spoolPath, o.logger);
        const spool = new AuditSpool(file, slot, o.maxBytes, size.bytes, o.logger, o.metrics);
        spool.skippedLines.inc({ problem: 'torn' }, size.torn ? 1 : 0);
        if (slot.takenOverFrom !== undefined) o.logger.info({ spool: slot.spoolPath, previousPid: slot.takenOverFrom }, 'audit spool: taken over from a process that is gone');
        if (size.bytes > 0) o.logger.info({ spool: slot.spoolPath, bytes: size.bytes }, 'audit spool: entries from before; they are written when the database is reachable');
        return spool;
      } catch (err) {
        await file.close().catch(() => undefined);
        throw err;
      }
    } catch (err) {
      slot?.release();
      const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      throw new ParleyError('config_invalid', `authz.audit.spoolDir: cannot use ${o.dir}: ${code} (set another directory, or spoolMaxBytes 0 to keep no spool)`, { cause: err });
    }
  }

  get path(): string {
    return this.slot.spoolPath;
  }

  /** Bytes in the file now. */
  get bytes(): number {
    return this.size;
  }

  /**
   * Appends the entries in order, one write and one fdatasync. Stops at the first that would
   * take the file past maxBytes: returns how many (from the start) were stored.
   */
  append(entries: readonly SpooledDecision[]): Promise<number> {
    return this.serial(async () => {
      if (this.closed) throw new ParleyError('unavailable', 'audit spool: closed');
      if (entries.length === 0) return 0;
      const lines: Buffer[] = [];
      let bytes = 0;
      for (const entry of entries) {
        const line = encodeSpoolLine(entry);
        if (this.size + bytes + line.length > this.maxBytes) break;
        lines.push(line);
        bytes += line.length;
      }
      if (lines.length === 0) return 0;
      await writeAll(this.file, Buffer.concat(lines, bytes));
      await this.file.datasync();
      this.size += bytes;
      this.spooled.inc(lines.length);
      return lines.length;
    });
  }

  /** Up to `maxEntries` entries from `offset` (a line start: 0 or a previous nextOffset). */
  read(offset: number, maxEntries: number): Promise<SpoolRead> {
    return this.serial(async () => {
      const entries: SpooledDecision[] = [];
      let at = offset;
      while (entries.length < maxEntries && at < this.size) {
        const length = Math.min(READ_BYTES, this.size - at);
        const chunk = Buffer.alloc(length);
        const { bytesRead } = await this.file.read(chunk, 0, length, at);
        const atEnd = at + bytesRead >= this.size;
        const decoded = decodeSpoolChunk(chunk.subarray(0, bytesRead), atEnd, maxEntries - entries.length);
        entries.push(...decoded.entries);
        this.reportSkipped(at, decoded.skipped);
        if (decoded.consumed === 0) break;
        at += decoded.consumed;
      }
      return { entries, nextOffset: at, atEnd: at >= this.size };
    });
  }

  /**
   * Empties the file when it still holds exactly `size` bytes (everything read so far was
   * written to the database and nothing was appended since). True when it was emptied.
   */
  clearIfSize(size: number): Promise<boolean> {
    return this.serial(async () => {
      if (this.closed || this.size !== size) return false;
      await this.file.truncate(0);
      await this.file.sync();
      this.size = 0;
      return true;
    });
  }

  /** Closes the file and releases the slot, after the operations already asked for. Idempotent. */
  close(): Promise<void> {
    return this.serial(async () => {
      if (this.closed) return;
      this.closed = true;
      try {
        await this.file.close();
      } finally {
        this.slot.release();
      }
    });
  }

  private reportSkipped(base: number, skipped: ReadonlyArray<{ offset: number; problem: SpoolLineProblem }>): void {
    if (skipped.length === 0) return;
    for (const s of skipped) this.skippedLines.inc({ problem: s.problem });
    const first = skipped[0]!;
    this.logger.warn({ spool: this.path, lines: skipped.length, offset: base + first.offset, problem: first.problem }, 'audit spool: unreadable lines skipped');
  }

  private serial<T>(step: () => Promise<T>): Promise<T> {
    const next = this.chain.then(step);
    this.chain = next.catch(() => undefined);
    return next;
  }
}

async function writeAll(file: FileHandle, data: Buffer): Promise<void> {
  for (let written = 0; written < data.length; ) {
    const { bytesWritten } = await file.write(data, written, data.length - written);
    written += bytesWritten;
  }
}

/**
 * The file's size after cutting a last line that has no newline (a crash while it was being
 * written): it is unreadable, and a line appended after it would be lost with it.
 */
async function cutTornTail(file: FileHandle, path: string, logger: Logger): Promise<{ bytes: number; torn: boolean }> {
  const size = (await file.stat()).size;
  if (size === 0) return { bytes: 0, torn: false };
  const last = Buffer.alloc(1);
  await file.read(last, 0, 1, size - 1);
  if (last[0] === 0x0a) return { bytes: size, torn: false };
  let keep = 0;
  for (let end = size; end > 0; ) {
    const start = Math.max(0, end - TAIL_STEP);
    const piece = Buffer.alloc(end - start);
    await file.read(piece, 0, piece.length, start);
    const newline = piece.lastIndexOf(0x0a);
    if (newline >= 0) {
      keep = start + newline + 1;
      break;
    }
    end = start;
  }
  await file.truncate(keep);
  await file.sync();
  logger.warn({ spool: path, offset: keep, bytes: size - keep }, 'audit spool: torn last line skipped (a crash while it was written)');
  return { bytes: keep, torn: true };
}

/**
 * The gateway's spool per `authz.audit` (spoolDir relative to dataDir); undefined when
 * spoolMaxBytes is 0. Refuses (config_invalid) when the directory cannot be used or every
 * slot is held by a running gateway: the trail would silently lose its durability.
 */
export async function openGatewaySpool(settings: { spoolDir: string; spoolMaxBytes: number }, dataDir: string, logger: Logger, metrics: Registry): Promise<AuditSpool | undefined> {
  if (settings.spoolMaxBytes === 0) return undefined;
  const dir = resolve(dataDir, settings.spoolDir);
  const spool = await AuditSpool.open({ dir, maxBytes: settings.spoolMaxBytes, logger, metrics });
  if (spool === undefined) {
    throw new ParleyError('config_invalid', `authz.audit.spoolDir: every spool slot of ${dir} is held by a running gateway; give each gateway process its own spool directory`);
  }
  return spool;
}
