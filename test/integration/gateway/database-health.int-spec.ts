/**
 * gRPC Health follows the database, whatever PostgreSQL the gateway uses (here an external
 * one, stopped and started again): NOT_SERVING while it is down (Check and Watch, so
 * balancers move traffic), SERVING after, and /readyz agrees at each step.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { freePort } from '../../../src/common/net';
import { EmbeddedPostgres } from '../../../src/database/embedded-postgres';
import { requireSpiffeId } from '../../../src/spiffe';
import { spiffeChannelCredentials } from '../../../src/tls/client-credentials';
import { devCaOf, startTestGateway, type TestGateway } from '../../support/gateway';
import { httpGet } from '../../support/parley-process';
import { waitFor } from '../../support/ports';
import { check, healthClient } from '../../support/tls-clients';
import { TrustStore } from '../../../src/trust';

jest.setTimeout(90_000);

describe('gRPC Health and /readyz during a database outage', () => {
  let dir: string;
  let pg: EmbeddedPostgres;
  let gw: TestGateway;
  const channels: grpc.Client[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'parley-db-health-'));
    chmodSync(dir, 0o755);
    pg = new EmbeddedPostgres({ dir: join(dir, 'postgres'), port: await freePort(), startTimeoutMs: 30_000 });
    gw = await startTestGateway({ DATABASE_URL: await pg.start(), PARLEY_DATABASE_HEALTH_INTERVAL: '100ms', PARLEY_DATABASE_CONNECT_TIMEOUT_MS: '1000' });
  });
  afterAll(async () => {
    for (const c of channels) c.close();
    await gw?.stop();
    await pg?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('turns NOT_SERVING while the database is down and SERVING when it is back, as /readyz says', async () => {
    const issued = await (await devCaOf(gw)).issue(requireSpiffeId('spiffe://acme.test/ns/balancer'));
    const credentials = spiffeChannelCredentials({ svid: { certChainPem: issued.certPem, keyPem: issued.keyPem }, trust: gw.gateway.get(TrustStore), server: { id: requireSpiffeId('spiffe://acme.test/parley/gateway') } });
    const client = healthClient(gw.gateway.listeners.grpc!.port, credentials);
    channels.push(client);
    const readyz = async () => (await httpGet(`http://127.0.0.1:${gw.gateway.listeners.ops!.port}/readyz`)).status;
    const seen: string[] = [];
    const watch = client.Watch({ service: '' });
    watch.on('data', (reply: { status: string }) => seen.push(reply.status));
    watch.on('error', () => undefined); // cancelled at the end

    expect(await check(client)).toBe('SERVING');
    expect(await readyz()).toBe(200);
    await waitFor(() => seen.length > 0, 5000, 20);

    await pg.stop();
    await waitFor(async () => (await check(client)) === 'NOT_SERVING', 5000, 50);
    expect(await readyz()).toBe(503);
    expect(await check(client)).toBe('NOT_SERVING');

    await pg.start();
    await waitFor(async () => (await check(client)) === 'SERVING', 20_000, 50);
    expect(await readyz()).toBe(200);
    await waitFor(() => seen.at(-1) === 'SERVING' && seen.length >= 3, 5000, 20);
    expect(seen).toEqual(['SERVING', 'NOT_SERVING', 'SERVING']);
    watch.cancel();
  });
});
