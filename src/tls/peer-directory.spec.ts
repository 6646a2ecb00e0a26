import { requireSpiffeId } from '../spiffe';
import { PeerDirectory } from './peer-directory';
import type { PeerIdentity } from './peer-identity';

const peer = (id: string, remoteAddress: string, remotePort: number): PeerIdentity => {
  const spiffeId = requireSpiffeId(id);
  return { id: spiffeId, spiffeId: spiffeId.toString(), trustDomain: spiffeId.trustDomain, fingerprint256: 'AA', serial: '01', notAfter: new Date(0), remoteAddress, remotePort };
};

describe('PeerDirectory', () => {
  it('finds a peer by the address:port string grpc-js getPeer() returns, until removed', () => {
    const dir = new PeerDirectory();
    const remove = dir.add(peer('spiffe://acme.test/a', '127.0.0.1', 40000));
    const v6 = dir.add(peer('spiffe://acme.test/b', '::1', 40001));
    expect(dir.peerOf({ getPeer: () => '127.0.0.1:40000' })?.id.toString()).toBe('spiffe://acme.test/a');
    expect(dir.get('::1:40001')?.id.toString()).toBe('spiffe://acme.test/b');
    expect(dir.get('127.0.0.1:40001')).toBeUndefined();
    expect(dir.get('unknown')).toBeUndefined();
    remove();
    remove();
    expect(dir.get('127.0.0.1:40000')).toBeUndefined();
    expect(dir.size).toBe(1);
    v6();
    expect(dir.size).toBe(0);
  });

  it('resolves nothing while two connections share an address (fail closed)', () => {
    const dir = new PeerDirectory();
    const first = dir.add(peer('spiffe://acme.test/a', '10.0.0.1', 5000));
    const second = dir.add(peer('spiffe://partner.test/b', '10.0.0.1', 5000));
    expect(dir.get('10.0.0.1:5000')).toBeUndefined();
    second();
    expect(dir.get('10.0.0.1:5000')?.id.toString()).toBe('spiffe://acme.test/a');
    first();
  });
});
