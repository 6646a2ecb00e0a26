/** Resource use of another process on this machine, read from /proc (Linux). */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const SAMPLE_MS = 100;

/** VmRSS of `pid` in bytes, or undefined when the process is gone. */
export function rssBytes(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Samples the RSS of `pid` every 100 ms until stopped; returns the peak (bytes). */
export function sampleRss(pid: number): { stop(): number } {
  let peak = rssBytes(pid) ?? 0;
  const timer = setInterval(() => {
    const v = rssBytes(pid);
    if (v !== undefined && v > peak) peak = v;
  }, SAMPLE_MS);
  return {
    stop() {
      clearInterval(timer);
      const v = rssBytes(pid);
      if (v !== undefined && v > peak) peak = v;
      return peak;
    },
  };
}

let ticksPerSecond: number | undefined;

/** CPU time (user + system, every thread) `pid` has used so far, in ms; 10 ms resolution at the usual 100 ticks/s. */
export function cpuMs(pid: number): number {
  return statCpuMs(`/proc/${pid}/stat`);
}

/**
 * CPU time (user + system) the main thread of this process has used so far, in ms (10 ms
 * resolution): unlike event-loop busy time, it does not grow while a loaded machine keeps
 * the thread waiting for a core.
 */
export function mainThreadCpuMs(): number {
  return statCpuMs(`/proc/${process.pid}/task/${process.pid}/stat`);
}

function statCpuMs(path: string): number {
  ticksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  const stat = readFileSync(path, 'utf8');
  // Fields after the command name (which may hold spaces), from field 3 on: utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond;
}

/** The 1-, 5- and 15-minute load averages, as `uptime` prints them. */
export function loadAverage(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(', ');
}
