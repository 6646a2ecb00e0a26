/**
 * The data-directory lock record and the decision whether the process it names still holds
 * the directory. Pure: the caller supplies what it knows about processes on this machine.
 */

/** What a lock file says about its holder. */
export interface LockRecord {
  pid: number;
  /** Process start time as the kernel counts it (/proc/<pid>/stat field 22); tells a reused pid apart. */
  startTicks?: string;
  /** /proc/sys/kernel/random/boot_id of the holder's machine boot. */
  bootId?: string;
  hostname: string;
  /** RFC 3339 time the lock was taken. */
  since: string;
}

/** What the caller can find out about processes here and now. */
export interface ProcessProbe {
  ownPid: number;
  bootId?: string;
  /** Whether a process with this pid exists (a process of another user exists too). */
  exists(pid: number): boolean;
  /** Start ticks of a live process, when the platform tells (Linux /proc). */
  startTicksOf(pid: number): string | undefined;
}

export type HolderVerdict = { held: true } | { held: false; why: string };

const MAX_FIELD = 200;

export function formatLockRecord(record: LockRecord): string {
  return `${JSON.stringify(record)}\n`;
}

/** Parses a lock file; undefined when it is not a lock record of ours. */
export function parseLockRecord(text: string): LockRecord | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (value === null || typeof value !== 'object') return undefined;
  const { pid, startTicks, bootId, hostname, since } = value as Record<string, unknown>;
  if (typeof pid !== 'number' || !Number.isSafeInteger(pid) || pid <= 0) return undefined;
  if (!isShortString(hostname) || !isShortString(since)) return undefined;
  if (startTicks !== undefined && !(isShortString(startTicks) && /^[0-9]+$/.test(startTicks))) return undefined;
  if (bootId !== undefined && !isShortString(bootId)) return undefined;
  return { pid, startTicks, bootId, hostname, since };
}

/**
 * Whether the process a lock names still runs: a lock of an earlier boot, of a dead pid, or of
 * a pid now used by another process (other start time, or our own pid) is stale.
 */
export function judgeHolder(record: LockRecord, probe: ProcessProbe): HolderVerdict {
  if (record.bootId !== undefined && probe.bootId !== undefined && record.bootId !== probe.bootId) return { held: false, why: 'taken before the machine restarted' };
  if (record.pid === probe.ownPid) return { held: false, why: `process ${record.pid} is this process now (the pid was reused)` };
  if (!probe.exists(record.pid)) return { held: false, why: `process ${record.pid} is gone` };
  const ticks = record.startTicks === undefined ? undefined : probe.startTicksOf(record.pid);
  if (ticks !== undefined && ticks !== record.startTicks) return { held: false, why: `process ${record.pid} is another process now (the pid was reused)` };
  return { held: true };
}

/** "process 1234 on host h (since 2026-…)" for messages. */
export function describeHolder(record: LockRecord): string {
  return `process ${record.pid} on host ${record.hostname} (since ${record.since})`;
}

function isShortString(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_FIELD;
}
