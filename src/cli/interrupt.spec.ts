import { interruptExitCode, TransferInterrupted, watchInterrupts } from './interrupt';

describe('watchInterrupts', () => {
  const listeners = () => [process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')];

  it('the first SIGINT aborts with its name; a second exits at once with 130', () => {
    const before = listeners();
    const exits: number[] = [];
    const watch = watchInterrupts((code) => exits.push(code));
    expect(listeners()).toEqual(before.map((n) => n + 1));
    process.emit('SIGINT');
    expect(watch.signal.aborted).toBe(true);
    expect(watch.signal.reason).toBe('SIGINT');
    expect(exits).toEqual([]);
    process.emit('SIGINT');
    expect(exits).toEqual([130]);
    watch.close();
    expect(listeners()).toEqual(before);
  });

  it('SIGTERM aborts too; the interruption exits with 143', () => {
    const watch = watchInterrupts(() => undefined);
    try {
      process.emit('SIGTERM');
      const interrupted = TransferInterrupted.of(watch.signal, 'pull interrupted');
      expect(interrupted).toMatchObject({ signal: 'SIGTERM', exitCode: 143, message: 'pull interrupted' });
    } finally {
      watch.close();
    }
  });

  it('once closed after an interruption, exits after the linger time if the process is still running', async () => {
    const exits: number[] = [];
    const watch = watchInterrupts((code) => exits.push(code), 20);
    process.emit('SIGTERM');
    watch.close();
    expect(exits).toEqual([]);
    await new Promise((r) => setTimeout(r, 60));
    expect(exits).toEqual([143]);
  });

  it('closed without an interruption, it never exits the process', async () => {
    const exits: number[] = [];
    watchInterrupts((code) => exits.push(code), 5).close();
    await new Promise((r) => setTimeout(r, 30));
    expect(exits).toEqual([]);
  });

  it('maps signals to the exit codes a shell reports', () => {
    expect(interruptExitCode('SIGINT')).toBe(130);
    expect(interruptExitCode('SIGTERM')).toBe(143);
  });
});
