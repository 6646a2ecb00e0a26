import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { ParleyError } from '../common';
import { SpiffeId } from '../spiffe';
import type { PeerIdentity } from '../tls/peer-identity';
import type { GrantScope } from './domain/export';
import type { ExportStore } from './export-store';
import type { GrantKeys } from './grant-keys';
import { GrantService, grantVerifierOf } from './grant-service';

const GATEWAY = SpiffeId.parse('spiffe://acme.test/parley/gateway');
const NOW = Date.UTC(2026, 11, 3, 12, 0, 0);
const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const keys = { signer: () => ({ kid: 'k1', privateKey: pair.privateKey }), keyFor: (kid: string) => (kid === 'k1' ? pair.publicKey : undefined) } as unknown as GrantKeys;

function peer(id: string, der = randomBytes(300)): PeerIdentity {
  const spiffeId = SpiffeId.parse(id);
  const fingerprint256 = createHash('sha256').update(der).digest('hex').toUpperCase().match(/../g)!.join(':');
  return { id: spiffeId, spiffeId: id, trustDomain: spiffeId.trustDomain, fingerprint256, serial: '01', notAfter: new Date(NOW + 3_600_000), remoteAddress: '10.0.0.1', remotePort: 1 };
}

function service(scope: GrantScope): GrantService {
  return new GrantService({ exports: { scopeFor: () => scope } as unknown as ExportStore, keys, gatewayId: GATEWAY, ttlMs: 300_000 });
}

describe('GrantService as the call authorizer sees it (grantVerifierOf)', () => {
  const partner = peer('spiffe://partner.test/parley/gateway');

  it('answers by namespace and action within the export, nothing outside it', async () => {
    const grants = service([{ exportId: 'ml-shared', namespaces: ['ml/shared'], actions: ['list', 'pull'] }]);
    const { token, claims } = await grants.issue(partner, NOW);
    const presented = grantVerifierOf(grants).verify(token, partner, NOW + 1000);
    expect(presented.id).toBe(claims.jti);
    expect([presented.allows('list', 'ml/shared'), presented.allows('pull', 'ml/shared/a/b'), presented.allows('pull', 'ml/sharedx'), presented.allows('lookup', 'ml/shared'), presented.allows('pull', 'ml')]).toEqual([
      true,
      true,
      false,
      false,
      false,
    ]);
  });

  it('covers no namespace as a whole through an export with an annotation selector (fail closed)', async () => {
    const grants = service([{ exportId: 'tagged', namespaces: ['ml/shared'], annotations: { share: 'yes' }, actions: ['list', 'pull'] }]);
    const { token } = await grants.issue(partner, NOW);
    expect(grantVerifierOf(grants).verify(token, partner, NOW).allows('pull', 'ml/shared')).toBe(false);
  });

  it.each([
    ['another SPIFFE ID', peer('spiffe://partner.test/ml/trainer'), NOW, 'grant_wrong_subject'],
    ['another certificate of the same ID', peer('spiffe://partner.test/parley/gateway'), NOW, 'grant_wrong_certificate'],
    ['the caller after expiry', partner, NOW + 306_000, 'grant_expired'],
  ])('refuses the grant presented by %s (unauthenticated, the reason in details)', async (_what, presenter, at, reason) => {
    const grants = service([{ exportId: 'ml-shared', namespaces: ['ml/shared'], actions: ['pull'] }]);
    const { token } = await grants.issue(partner, NOW);
    let caught: unknown;
    try {
      grantVerifierOf(grants).verify(token, presenter, at);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ParleyError);
    expect(caught).toMatchObject({ code: 'unauthenticated', details: { reason } });
  });
});
