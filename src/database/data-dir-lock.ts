import { linkSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { ParleyError } from '../common';
import { describeHolder, formatLockRecord, judgeHolder, parseLockRecord, type LockRecord, type ProcessProbe } from './domain/lock-holder';

/** Lock paths this process holds (a second lock on the same path from this process is refused too). */
const heldHere = new Set<string>();

/** How often a lock is tried when another process recovers the same stale lock at the same time. */
const ATTEMPTS = 3;

/**
 * An exclusive lock on a directory held by a live process: a file whose content names the
 * holder (pid, start time, boot id, host). It is created whole (written aside, then hard-linked
 * into place), so no reader ever sees half a record. A lock whose holder is gone, or whose pid
 * now belongs to another process, is stale and taken over; a live holder is never disturbed.
 */
export class DataDirLock {
  private constructor(
    readonly path: string,
    private readonly content: string,
  ) {}

  /**
   * Takes the lock at `path`, or throws `precondition_failed` naming the live holder.
   * `what` names the directory in messages; `onStale` hears about a recovered stale lock.
   */
  static acquire(path: string, what: string, onStale?: (message: string) => void): DataDirLock {
    const record: LockRecord = { pid: process.pid, startTicks: startTicksOf(process.pid), bootId: bootId(), hostname: hostname(), since: new Date().toISOString() };
    const content = formatLockRecord(record);
    if (heldHere.has(path)) throw inUse(what, path, record);
    for (let attempt = 1; ; attempt++) {
      if (tryCreate(path, content)) {
        heldHere.add(path);
        return new DataDirLock(path, content);
      }
      const holder = readHolder(path, what);
      if (holder === undefined) continue; // released meanwhile
      const verdict = judgeHolder(holder, localProbe());
      if (verdict.held || attempt >= ATTEMPTS) throw inUse(what, path, holder);
      if (takeAway(path, holder)) onStale?.(`${what}: recovered the stale lock of ${describeHolder(holder)}: ${verdict.why}`);
    }
  }

  /** Removes the lock file if it is still ours. Idempotent. */
  release(): void {
    if (!heldHere.delete(this.path)) return;
    let current: string | undefined;
    try {
      current = readFileSync(this.path, 'utf8');
    } catch {
      return;
    }
    if (current === this.content) rmSync(this.path, { force: true });
  }
}

function tryCreate(path: string, content: string): boolean {
  const aside = `${path}.${process.pid}.new`;
  writeFileSync(aside, content, { mode: 0o644 });
  try {
    linkSync(aside, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new ParleyError('unavailable', `${path}: cannot create the lock file: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, { cause: err });
  } finally {
    rmSync(aside, { force: true });
  }
}

function readHolder(path: string, what: string): LockRecord | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ParleyError('unavailable', `${what}: cannot read the lock file ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, { cause: err });
  }
  const record = parseLockRecord(text);
  // Fail closed: a lock we cannot read might be held; the operator decides.
  if (record === undefined) throw new ParleyError('precondition_failed', `${what}: the lock file ${path} cannot be read; remove it if no parley process uses this directory`);
  return record;
}

/**
 * Moves a stale lock aside. If another process recovered it first and already holds a fresh
 * lock, that one was moved: put it back and report failure (the next attempt sees its holder).
 */
function takeAway(path: string, stale: LockRecord): boolean {
  const aside = `${path}.${process.pid}.stale`;
  try {
    renameSync(path, aside);
  } catch {
    return false;
  }
  const moved = parseLockRecord(readFileSync(aside, 'utf8'));
  if (moved !== undefined && (moved.pid !== stale.pid || moved.startTicks !== stale.startTicks || moved.since !== stale.since)) {
    try {
      linkSync(aside, path);
    } catch {
      // Someone locked meanwhile; the next attempt reads the holder.
    }
    rmSync(aside, { force: true });
    return false;
  }
  rmSync(aside, { force: true });
  return true;
}

function inUse(what: string, path: string, holder: LockRecord): ParleyError {
  return new ParleyError(
    'precondition_failed',
    `${what} is in use by ${holder.pid === process.pid ? 'this process' : describeHolder(holder)} (lock ${path}); stop that process first or use another dataDir`,
    { details: { holderPid: holder.pid } },
  );
}

function localProbe(): ProcessProbe {
  return { ownPid: process.pid, bootId: bootId(), exists, startTicksOf };
}

function exists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // alive, another user's
  }
}

/** Field 22 of /proc/<pid>/stat (start time in clock ticks since boot); the command name before it may hold spaces. */
function startTicksOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = fields[19];
    return ticks !== undefined && /^[0-9]+$/.test(ticks) ? ticks : undefined;
  } catch {
    return undefined;
  }
}

function bootId(): string | undefined {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}
