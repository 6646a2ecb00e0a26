import { formatDuration } from './duration';
import { durationsAsWritten } from './redact';
import { configSchema } from './schema';
import { configLeaves } from './schema-walk';

describe('durations as written', () => {
  it.each([
    [0, '0s'],
    [500, '500ms'],
    [1500, '1500ms'],
    [2000, '2s'],
    [90_000, '90s'],
    [30 * 60_000, '30m'],
    [3_600_000, '1h'],
    [30 * 86_400_000, '30d'],
  ])('%d ms is %s', (ms, text) => expect(formatDuration(ms)).toBe(text));

  it('knows the duration leaves, bounded ones included', () => {
    const durations = configLeaves(configSchema).filter((l) => l.duration).map((l) => l.path.join('.'));
    expect(durations).toEqual(expect.arrayContaining(['identity.devCa.svidTtl', 'identity.devCa.caTtl', 'database.healthInterval', 'federation.poll.timeout']));
    expect(durations).not.toContain('ops.port');
  });

  it('rewrites only duration leaves of a config', () => {
    const out = durationsAsWritten({ identity: { devCa: { svidTtl: 3_600_000, caTtl: 2_592_000_000 } }, ops: { port: 9464, readinessTimeoutMs: 2000 } });
    expect(out).toEqual({ identity: { devCa: { svidTtl: '1h', caTtl: '30d' } }, ops: { port: 9464, readinessTimeoutMs: 2000 } });
  });
});
