import { FirstMessageClock, type ClockTimers, type ClockWaiter } from './call-interceptor';

/** Timers driven by the test: `advance` runs what is due, in order. */
class ManualTimers implements ClockTimers {
  t = 0;
  pending: Array<{ at: number; fn: () => void }> = [];
  now = (): number => this.t;
  setTimeout = (fn: () => void, ms: number) => {
    this.pending.push({ at: this.t + ms, fn });
    return { unref: () => undefined };
  };
  advance(ms: number): void {
    const until = this.t + ms;
    for (;;) {
      this.pending.sort((a, b) => a.at - b.at);
      const next = this.pending[0];
      if (next === undefined || next.at > until) break;
      this.pending.shift();
      this.t = next.at;
      next.fn();
    }
    this.t = until;
  }
}

function waiter(name: string, late: string[]): ClockWaiter {
  return { clockPrev: undefined, clockNext: undefined, clockDeadline: Number.NaN, firstMessageLate: () => late.push(name) };
}

describe('FirstMessageClock', () => {
  it('ends each call exactly its limit after its clock started, unless stopped first', () => {
    const timers = new ManualTimers();
    const clock = new FirstMessageClock(100, timers);
    const late: string[] = [];
    const a = waiter('a', late);
    const b = waiter('b', late);
    const c = waiter('c', late);
    clock.start(a);
    timers.advance(30);
    clock.start(b);
    timers.advance(30);
    clock.start(c);
    clock.stop(a);
    expect(clock.size).toBe(2);
    timers.advance(69);
    expect(late).toEqual([]);
    timers.advance(1);
    expect(late).toEqual(['b']);
    expect(timers.t).toBe(130);
    timers.advance(29);
    expect(late).toEqual(['b']);
    timers.advance(1);
    expect(late).toEqual(['b', 'c']);
    expect(timers.t).toBe(160);
    expect(clock.size).toBe(0);
    expect(timers.pending).toHaveLength(0);
  });

  it('keeps one timer however many calls wait, and unlinks from the middle and the ends', () => {
    const timers = new ManualTimers();
    const clock = new FirstMessageClock(50, timers);
    const late: string[] = [];
    const all = Array.from({ length: 5 }, (_, i) => waiter(String(i), late));
    for (const w of all) clock.start(w);
    expect(timers.pending).toHaveLength(1);
    clock.stop(all[2]!);
    clock.stop(all[0]!);
    clock.stop(all[4]!);
    clock.stop(all[4]!);
    clock.start(all[1]!); // already running: keeps its deadline
    timers.advance(50);
    expect(late).toEqual(['1', '3']);
    expect(all.every((w) => Number.isNaN(w.clockDeadline) && w.clockNext === undefined && w.clockPrev === undefined)).toBe(true);
  });

  it('starts again after the list emptied, and one failing call does not stop the others', () => {
    const timers = new ManualTimers();
    const clock = new FirstMessageClock(10, timers);
    const late: string[] = [];
    const bad: ClockWaiter = { ...waiter('bad', late), firstMessageLate: () => { throw new Error('boom'); } };
    const ok = waiter('ok', late);
    clock.start(bad);
    clock.start(ok);
    timers.advance(10);
    expect(late).toEqual(['ok']);
    const again = waiter('again', late);
    timers.advance(100);
    clock.start(again);
    timers.advance(9);
    expect(late).toEqual(['ok']);
    timers.advance(1);
    expect(late).toEqual(['ok', 'again']);
  });

  it('refuses a limit that is not a positive integer', () => {
    expect(() => new FirstMessageClock(0)).toThrow(TypeError);
    expect(() => new FirstMessageClock(1.5)).toThrow(TypeError);
  });
});
