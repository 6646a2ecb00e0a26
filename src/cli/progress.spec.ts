import { formatBytes, formatDuration, formatRate, Progress, renderProgressLine, renderSummary, type ProgressStream } from './progress';

const MiB = 1024 * 1024;

function fakeStream(isTTY: boolean): ProgressStream & { out: string } {
  const s = { isTTY, columns: 80, out: '', write: (x: string) => ((s.out += x), true) };
  return s;
}

describe('progress formatting', () => {
  it('formats bytes, rates and durations', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1023)).toBe('1023 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(64 * MiB)).toBe('64.0 MiB');
    expect(formatBytes(3 * 1024 * MiB)).toBe('3.0 GiB');
    expect(formatBytes(-1)).toBe('?');
    expect(formatRate(10 * MiB)).toBe('10.0 MiB/s');
    expect(formatRate(Number.NaN)).toBe('?/s');
    expect(formatDuration(7)).toBe('0:07');
    expect(formatDuration(725)).toBe('12:05');
    expect(formatDuration(3723)).toBe('1:02:03');
    expect(formatDuration(Number.POSITIVE_INFINITY)).toBe('--:--');
  });

  it('renders a bar with percentage, amounts, rate and ETA within the width', () => {
    const line = renderProgressLine({ label: 'pull', done: 10 * MiB, total: 40 * MiB, elapsedMs: 2000 }, 80);
    expect(line).toBe('pull [########----------------------]  25% 10.0 MiB/40.0 MiB 5.0 MiB/s ETA 0:06');
    expect(line.length).toBeLessThanOrEqual(80);
    expect(renderProgressLine({ label: 'push', done: 0, total: 100, elapsedMs: 0 }, 80)).toContain('ETA --:--');
    expect(renderProgressLine({ label: 'push', done: 5, total: 100, elapsedMs: 1000 }, 30).length).toBeLessThanOrEqual(30);
    expect(renderProgressLine({ label: 'push', done: 5 * MiB, elapsedMs: 1000 }, 80)).toContain('5.0 MiB 5.0 MiB/s');
    expect(renderSummary('pushed', 64 * MiB, 2000)).toBe('pushed 64.0 MiB in 0:02 (32.0 MiB/s)');
  });
});

describe('Progress', () => {
  it('redraws on a TTY at most once per interval and ends with a summary', () => {
    let t = 0;
    const stream = fakeStream(true);
    const p = new Progress({ label: 'pull', total: 10 * MiB, stream, now: () => t });
    for (let i = 0; i < 10; i++) {
      t += 20;
      p.add(MiB);
    }
    expect(stream.out.split('\r\x1b[2K').filter((s) => s.startsWith('pull [')).length).toBe(2);
    t = 1000;
    p.finish('pulled');
    expect(stream.out.endsWith('\r\x1b[2Kpulled 10.0 MiB in 0:01 (10.0 MiB/s)\n')).toBe(true);
  });

  it('writes only the summary when not a TTY, and nothing when quiet', () => {
    const plain = fakeStream(false);
    const p = new Progress({ label: 'push', total: 3, stream: plain, now: () => 0 });
    p.add(3);
    p.finish('pushed');
    expect(plain.out).toBe('pushed 3 B in 0:00 (0 B/s)\n');
    const quiet = fakeStream(true);
    const q = new Progress({ label: 'push', total: 3, stream: quiet, quiet: true, now: () => 0 });
    q.add(3);
    q.finish('pushed');
    expect(quiet.out).toBe('');
  });

  it('counts resumed bytes as done but not in the rate', () => {
    let t = 0;
    const stream = fakeStream(true);
    const p = new Progress({ label: 'pull', total: 8 * MiB, initial: 4 * MiB, stream, now: () => t, intervalMs: 0 });
    t = 1000;
    p.add(2 * MiB);
    expect(stream.out).toContain('75% 6.0 MiB/8.0 MiB 2.0 MiB/s ETA 0:01');
    p.finish('pulled');
    expect(stream.out).toContain('pulled 2.0 MiB in 0:01 (2.0 MiB/s)');
  });
});
