/**
 * Pulls stream from their own database connections (store.pullConnections): a reader that
 * stops reading holds one, and the rest of the gateway keeps working; a Pull that finds every
 * stream connection busy gets UNAVAILABLE after store.pullConnectionWait, not a hang.
 */
import { randomBytes } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { requireSpiffeId } from '../../../src/spiffe';
import { StoreClient, storeChannelOptions } from '../../../src/store';
import { ContentId } from '../../../src/store/domain/content-id';
import { spiffeChannelCredentials } from '../../../src/tls/client-credentials';
import { devCaOf, startTestGateway, type TestGateway } from '../../support/gateway';
import { TrustStore } from '../../../src/trust';

jest.setTimeout(120_000);

describe('payload stream connections', () => {
  let gw: TestGateway;
  let client: StoreClient;

  beforeAll(async () => {
    gw = await startTestGateway({ PARLEY_STORE_PULL_CONNECTIONS: '1', PARLEY_STORE_PULL_CONNECTION_WAIT: '500ms' });
    const issued = await (await devCaOf(gw)).issue(requireSpiffeId('spiffe://acme.test/ns/reader'));
    const credentials = spiffeChannelCredentials({
      svid: { certChainPem: issued.certPem, keyPem: issued.keyPem },
      trust: gw.gateway.get(TrustStore),
      server: { id: requireSpiffeId('spiffe://acme.test/parley/gateway') },
    });
    // A small flow-control window, so a reader that stops reading stalls the server quickly.
    client = new StoreClient(`127.0.0.1:${gw.gateway.listeners.grpc!.port}`, credentials, { ...storeChannelOptions(), 'grpc-node.flow_control_window': 1024 * 1024, 'grpc.ssl_target_name_override': 'acme.test' });
  });
  afterAll(async () => {
    client?.close();
    await gw?.stop();
  });

  it('a stalled reader holds one stream connection; Lookup and Push go on; another Pull is refused in time', async () => {
    const big = await client.push({ namespace: 'ns', media_type: 'application/octet-stream', annotations: {} }, randomBytes(24 * 1024 * 1024));
    const small = await client.push({ namespace: 'ns', media_type: 'text/plain', annotations: {} }, Buffer.from('small'));

    const stalled = client.pull(big);
    await new Promise<void>((resolve) => stalled.once('data', () => resolve()));
    stalled.pause(); // reads nothing more: the server's writes wait for the client
    stalled.on('error', () => undefined);
    await new Promise((r) => setTimeout(r, 300));

    expect((await client.lookup([small])).records.map((r) => r.cid)).toEqual([small]);
    const stillPushing = Buffer.from('still pushing');
    expect(await client.push({ namespace: 'ns', media_type: 'text/plain', annotations: {} }, stillPushing)).toBe(ContentId.of(stillPushing).toString());
    const started = Date.now();
    await expect(client.pullAll(small)).rejects.toMatchObject({ code: status.UNAVAILABLE });
    expect(Date.now() - started).toBeLessThan(5000);

    stalled.cancel();
    // The cancelled pull gives its connection back: pulls work again.
    const until = Date.now() + 10_000;
    for (;;) {
      try {
        expect((await client.pullAll(small)).data.toString()).toBe('small');
        break;
      } catch (err) {
        if (Date.now() > until) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  });
});
