import { federationState } from './status';

const now = new Date('2026-01-01T12:00:00Z');
const ago = (ms: number) => new Date(now.getTime() - ms);
const base = { refreshIntervalMs: 300_000, now };

describe('federationState', () => {
  it('is pending before the first poll', () => {
    expect(federationState({ ...base, polls: 0, hasBundle: false })).toBe('pending');
    expect(federationState({ ...base, polls: 0, hasBundle: true })).toBe('pending');
  });

  it('is ready when the last poll succeeded recently', () => {
    expect(federationState({ ...base, polls: 3, hasBundle: true, lastSuccessAt: ago(1000) })).toBe('ready');
    expect(federationState({ ...base, polls: 3, hasBundle: true, lastSuccessAt: ago(1000), lastFailureAt: ago(60_000) })).toBe('ready');
    expect(federationState({ ...base, polls: 3, hasBundle: true, lastSuccessAt: ago(600_000) })).toBe('ready');
  });

  it('is stale when the last poll failed but a good bundle is held', () => {
    expect(federationState({ ...base, polls: 4, hasBundle: true, lastSuccessAt: ago(60_000), lastFailureAt: ago(1000) })).toBe('stale');
  });

  it('is stale when the held bundle is older than two refresh intervals', () => {
    expect(federationState({ ...base, polls: 4, hasBundle: true, lastSuccessAt: ago(600_001) })).toBe('stale');
  });

  it('is failing when the last poll failed and no bundle was ever obtained', () => {
    expect(federationState({ ...base, polls: 2, hasBundle: false, lastFailureAt: ago(1000) })).toBe('failing');
  });
});
