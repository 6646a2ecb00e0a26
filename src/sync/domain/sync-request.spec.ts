import { checkSyncRequest } from './sync-request';

const OWN = 'acme.test';
const CID = 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy';

describe('checkSyncRequest', () => {
  it('fills in the partner gateway ID from its trust domain and the target namespace', () => {
    expect(checkSyncRequest({ remoteAddress: 'partner.example:8443', remoteTrustDomain: 'partner.test', namespaces: ['ml/shared'] }, OWN)).toEqual({
      errors: [],
      value: {
        remoteAddress: 'partner.example:8443',
        remoteSpiffeId: 'spiffe://partner.test/parley/gateway',
        selection: { namespaces: ['ml/shared'], cids: [], annotations: {} },
        continuous: false,
        targetNamespace: 'partners/partner.test',
      },
    });
  });

  it('takes an explicit gateway ID, CIDs, a selector and a continuous interval', () => {
    const { value } = checkSyncRequest(
      { remoteAddress: '127.0.0.1:9443', remoteSpiffeId: 'spiffe://partner.test/gw', cids: [CID], annotations: { stage: 'released' }, continuous: true, intervalSeconds: 60, targetNamespace: 'mirror' },
      OWN,
    );
    expect(value).toMatchObject({ remoteSpiffeId: 'spiffe://partner.test/gw', selection: { cids: [CID], annotations: { stage: 'released' } }, intervalMs: 60_000, targetNamespace: 'mirror' });
  });

  it('reports every problem at once with field paths', () => {
    const { errors, value } = checkSyncRequest(
      { remoteAddress: 'no-port', remoteTrustDomain: OWN, namespaces: ['../etc', 7], cids: ['nope'], continuous: true, intervalSeconds: 1, targetNamespace: 'A' },
      OWN,
    );
    expect(value).toBeUndefined();
    expect(errors.map((e) => e.field)).toEqual(['remoteAddress', 'remoteTrustDomain', 'namespaces[0]', 'namespaces[1]', 'cids[0]', 'intervalSeconds', 'targetNamespace']);
    expect(checkSyncRequest({ remoteAddress: 'a:1' }, OWN).errors).toEqual([{ field: 'remoteSpiffeId', message: "give the partner gateway's SPIFFE ID, or its trust domain (remoteTrustDomain)" }]);
    expect(checkSyncRequest({ remoteAddress: 'a:1', remoteTrustDomain: 'p.test', intervalSeconds: 30 }, OWN).errors.map((e) => e.field)).toEqual(['intervalSeconds']);
    expect(checkSyncRequest({ remoteAddress: 'a:99999', remoteSpiffeId: 'spiffe://p.test' }, OWN).errors.map((e) => e.field)).toEqual(['remoteAddress', 'remoteSpiffeId']);
  });
});
