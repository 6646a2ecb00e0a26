import { describeHolder, formatLockRecord, judgeHolder, parseLockRecord, type LockRecord, type ProcessProbe } from './lock-holder';

const RECORD: LockRecord = { pid: 4242, startTicks: '123456', bootId: 'boot-a', hostname: 'node-1', since: '2026-12-03T08:00:00.000Z' };

function probe(overrides: Partial<ProcessProbe> & { live?: Record<number, string | undefined> } = {}): ProcessProbe {
  const live = overrides.live ?? { 4242: '123456' };
  return {
    ownPid: overrides.ownPid ?? 1,
    bootId: 'bootId' in overrides ? overrides.bootId : 'boot-a',
    exists: (pid) => pid in live,
    startTicksOf: (pid) => live[pid],
  };
}

describe('data directory lock record', () => {
  it('round-trips through its file form', () => {
    expect(parseLockRecord(formatLockRecord(RECORD))).toEqual(RECORD);
    expect(parseLockRecord(formatLockRecord({ pid: 7, hostname: 'h', since: 'now' }))).toEqual({ pid: 7, hostname: 'h', since: 'now' });
  });

  it.each([
    ['not JSON', 'pid=4242'],
    ['an array', '[4242]'],
    ['a pid of 0', JSON.stringify({ ...RECORD, pid: 0 })],
    ['a fractional pid', JSON.stringify({ ...RECORD, pid: 1.5 })],
    ['a pid as text', JSON.stringify({ ...RECORD, pid: '4242' })],
    ['no hostname', JSON.stringify({ ...RECORD, hostname: undefined })],
    ['start ticks that are not digits', JSON.stringify({ ...RECORD, startTicks: '12a' })],
    ['a huge field', JSON.stringify({ ...RECORD, hostname: 'h'.repeat(201) })],
  ])('refuses a lock file with %s', (_what, text) => {
    expect(parseLockRecord(text)).toBeUndefined();
  });

  it('names the holder', () => {
    expect(describeHolder(RECORD)).toBe('process 4242 on host node-1 (since 2026-12-03T08:00:00.000Z)');
  });
});

describe('judgeHolder', () => {
  it('holds while the same process (pid and start time) runs', () => {
    expect(judgeHolder(RECORD, probe())).toEqual({ held: true });
  });

  it('holds when the start time cannot be read (not Linux) and the pid exists', () => {
    expect(judgeHolder(RECORD, probe({ live: { 4242: undefined } }))).toEqual({ held: true });
    expect(judgeHolder({ ...RECORD, startTicks: undefined, bootId: undefined }, probe({ bootId: undefined }))).toEqual({ held: true });
  });

  it.each([
    ['a dead pid', probe({ live: {} }), 'process 4242 is gone'],
    ['a pid reused by another process', probe({ live: { 4242: '999' } }), 'process 4242 is another process now (the pid was reused)'],
    ['our own pid (a restarted container)', probe({ ownPid: 4242 }), 'process 4242 is this process now (the pid was reused)'],
    ['an earlier boot', probe({ bootId: 'boot-b' }), 'taken before the machine restarted'],
  ])('finds the lock of %s stale', (_what, processes, why) => {
    expect(judgeHolder(RECORD, processes)).toEqual({ held: false, why });
  });
});
