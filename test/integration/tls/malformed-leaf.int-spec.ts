import { TestCa } from '../../support/test-ca';
import { check, healthClient, pairOf, rawAttempt, trustStoreOf } from '../../support/tls-clients';
import { waitFor } from '../../support/ports';
import { credsFor, GATEWAY_ID, startServer, type TestServer } from './harness';

jest.setTimeout(30_000);

/**
 * A client leaf whose extensions do not decode is refused at the connection as
 * `malformed_certificate` (the SVID rules cannot be checked on it), and the listener goes on
 * admitting valid clients.
 */
describe('mTLS listener: a leaf with malformed extensions', () => {
  let acme: TestCa;
  let gw: TestServer;

  beforeAll(async () => {
    acme = await TestCa.create({ trustDomain: 'acme.test' });
    gw = await startServer(trustStoreOf(acme), await acme.issueSvid({ id: GATEWAY_ID }));
  });
  afterAll(() => gw?.stop());

  const malformed: Array<[string, Parameters<TestCa['issueSvid']>[0]]> = [
    // A SAN list holding a UTF8String instead of a general name.
    ['subject alternative names', { uris: [], extensions: [TestCa.extension('2.5.29.17', false, Uint8Array.from([0x30, 0x03, 0x0c, 0x01, 0x61]))] }],
    // keyCertSign hidden in the padding bits of the key usage bit string.
    ['key usage', { id: 'spiffe://acme.test/w', keyUsage: null, extensions: [TestCa.extension('2.5.29.15', true, Uint8Array.from([0x03, 0x02, 0x03, 0x84]))] }],
    // An extended key usage list cut inside an object identifier.
    ['extended key usage', { id: 'spiffe://acme.test/w', ekus: null, extensions: [TestCa.extension('2.5.29.37', false, Uint8Array.from([0x30, 0x04, 0x06, 0x02, 0x2b, 0x86]))] }],
  ];

  it.each(malformed)('refuses a leaf with malformed %s, then admits a valid client', async (_name, opts) => {
    const refusals = () => gw.server.listener.stats().refused.malformed_certificate ?? 0;
    const before = refusals();
    const attempt = await rawAttempt(gw.port, pairOf(await acme.issueSvid(opts)), acme.certPem);
    expect(attempt.end).not.toBe('open');
    await waitFor(() => refusals() > before, 2_000, 20);
    const line = gw.logger.matching('tls connection refused').at(-1)!;
    expect(line.obj).toMatchObject({ reason: 'malformed_certificate', remoteAddress: '127.0.0.1' });
    expect(String(line.obj.detail)).toMatch(/^cannot parse certificate: malformed extension 2\.5\.29\.(17|15|37)$/);

    const client = healthClient(gw.port, credsFor(await acme.issueSvid({ id: 'spiffe://acme.test/ns/ml/sa/trainer' }), trustStoreOf(acme)));
    try {
      await expect(check(client)).resolves.toBe('SERVING');
    } finally {
      client.close();
    }
  });
});
