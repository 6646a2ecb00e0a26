import { SpiffeBundle, TrustDomain } from '../spiffe';
import { buildStatus, stateOf } from './federation-status';
import type { BundleRow, StoredRelationship } from './federation.repository';

const TD = TrustDomain.parse('partner.test');
const at = new Date('2030-01-01T00:00:00Z');
const rel = (profile: 'static' | 'https_web', denied: string[] = []): StoredRelationship => ({
  relationship: { trustDomain: TD.name, profile, endpointUrls: profile === 'static' ? [] : ['https://p.test/'], deniedAuthorities: denied },
  source: 'api',
  createdAt: at,
  updatedAt: at,
});
const row = (o: Partial<BundleRow>): BundleRow => ({ trustDomain: TD.name, consecutiveFailures: 0, polls: 0, skipped: [], refreshRequested: 0, refreshDone: 0, ...o });
const EMPTY = SpiffeBundle.fromX509Authorities(TD, [], { sequence: 3n, refreshHint: 60 }).serialize();

describe('federation status', () => {
  it('calls a static relationship ready once it holds a bundle, pending before', () => {
    expect(stateOf(rel('static'), undefined, at, 30_000)).toBe('pending');
    expect(stateOf(rel('static'), row({ document: EMPTY, polls: 1 }), new Date(at.getTime() + 86_400_000), 30_000)).toBe('ready');
  });

  it('derives the state of a polled relationship from its last success and failure', () => {
    const ok = row({ document: EMPTY, polls: 3, lastSuccessAt: at, refreshHint: 60 });
    expect(stateOf(rel('https_web'), ok, new Date(at.getTime() + 60_000), 30_000)).toBe('ready');
    expect(stateOf(rel('https_web'), ok, new Date(at.getTime() + 121_000), 30_000)).toBe('stale');
    const failed = row({ polls: 1, lastFailureAt: at, lastErrorReason: 'timeout', lastError: 'slow' });
    expect(stateOf(rel('https_web'), failed, at, 30_000)).toBe('failing');
  });

  it('reports the last error, sequence and an empty (revoking) bundle', () => {
    const s = buildStatus(rel('https_web'), row({ document: EMPTY, sequence: 3n, refreshHint: 60, polls: 2, lastSuccessAt: at, lastFailureAt: new Date(at.getTime() + 1000), lastErrorReason: 'http_status', lastError: 'HTTP 503' }), at, 30_000);
    expect(s).toMatchObject({ state: 'stale', sequence: '3', refreshHint: 60, authorities: [], lastError: { reason: 'http_status', detail: 'HTTP 503', at: '2030-01-01T00:00:01.000Z' } });
  });
});
