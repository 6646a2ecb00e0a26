import { nextPollDelayMs, POLL } from './domain';
import { pollDelayMs } from './federation-poller';

describe('pollDelayMs', () => {
  const mid = () => 0.5;
  it('is nextPollDelayMs when the minimum interval is the default 30 s', () => {
    for (const hint of [undefined, 0, 1, 45, 600, 7200]) {
      for (const succeeded of [true, false]) {
        const o = { succeeded, refreshHintSeconds: hint, consecutiveFailures: succeeded ? 0 : 2, random: mid };
        expect(pollDelayMs(POLL.minMs, o)).toBe(nextPollDelayMs(o));
      }
    }
  });

  it('lets a lower minimum interval honour short refresh hints, with the same jitter', () => {
    expect(pollDelayMs(1000, { succeeded: true, refreshHintSeconds: 1, consecutiveFailures: 0, random: mid })).toBe(1000);
    expect(pollDelayMs(1000, { succeeded: true, refreshHintSeconds: 0, consecutiveFailures: 0, random: mid })).toBe(1000);
    expect(pollDelayMs(5000, { succeeded: true, refreshHintSeconds: 2, consecutiveFailures: 0, random: () => 0 })).toBe(4500);
    expect(pollDelayMs(5000, { succeeded: true, refreshHintSeconds: 2, consecutiveFailures: 0, random: () => 1 })).toBe(5500);
    expect(pollDelayMs(1000, { succeeded: true, refreshHintSeconds: 7200, consecutiveFailures: 0, random: mid })).toBe(POLL.maxMs);
    expect(pollDelayMs(1000, { succeeded: true, consecutiveFailures: 0, random: mid })).toBe(POLL.defaultHintMs);
  });

  it('raises the interval to a higher minimum', () => {
    expect(pollDelayMs(120_000, { succeeded: true, refreshHintSeconds: 30, consecutiveFailures: 0, random: mid })).toBe(120_000);
  });

  it('keeps the failure backoff', () => {
    expect(pollDelayMs(1000, { succeeded: false, refreshHintSeconds: 1, consecutiveFailures: 1, random: mid })).toBe(
      nextPollDelayMs({ succeeded: false, refreshHintSeconds: 1, consecutiveFailures: 1, random: mid }),
    );
  });
});
