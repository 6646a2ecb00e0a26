/**
 * One audit spool file per gateway process: a spool directory has a few slots
 * (`audit-<n>.spool`), each owned through `audit-<n>.lock` (created exclusively, holding the
 * owner's pid). A lock whose pid is no longer alive is stale and taken over — with the spool
 * its process left behind, which the new owner replays. Replicas that share a data directory
 * therefore take different slots and never write the same file.
 */
import { openSync, closeSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/** Slots per spool directory: how many gateway processes may share one. */
export const SPOOL_SLOTS = 8;

/** Lock files held by this process (a pid check cannot tell two writers of one process apart). */
const heldHere = new Set<string>();

export interface SpoolSlot {
  readonly slot: number;
  readonly spoolPath: string;
  readonly lockPath: string;
  /** The pid of the process that held the lock before (it was not alive), when there was one. */
  readonly takenOverFrom?: number;
  release(): void;
}

/** The first free slot of `dir`, locked for this process; undefined when every slot is held by a live process. */
export function acquireSpoolSlot(dir: string, slots: number = SPOOL_SLOTS): SpoolSlot | undefined {
  for (let slot = 0; slot < slots; slot++) {
    const lockPath = join(dir, `audit-${slot}.lock`);
    if (heldHere.has(lockPath)) continue;
    const taken = tryLock(lockPath);
    if (taken === undefined) continue;
    heldHere.add(lockPath);
    let released = false;
    return {
      slot,
      lockPath,
      spoolPath: join(dir, `audit-${slot}.spool`),
      takenOverFrom: taken.stalePid,
      release() {
        if (released) return;
        released = true;
        heldHere.delete(lockPath);
        try {
          unlinkSync(lockPath);
        } catch {
          // already gone: nothing to release
        }
      },
    };
  }
  return undefined;
}

/** Creates the lock (taking over a stale one once); undefined when a live process holds it. */
function tryLock(lockPath: string): { stalePid?: number } | undefined {
  let stalePid: number | undefined;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lockPath, 'wx', 0o600);
      try {
        writeSync(fd, `${process.pid}\n`);
      } finally {
        closeSync(fd);
      }
      return { stalePid };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = lockHolder(lockPath);
    if (holder !== undefined && isAlive(holder)) return undefined;
    stalePid = holder;
    try {
      unlinkSync(lockPath);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  return undefined;
}

function lockHolder(lockPath: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(lockPath, 'utf8').trim(), 10);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Another live process (our own pid in a lock we do not hold is a leftover: pids repeat across restarts in containers). */
function isAlive(pid: number): boolean {
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
