/** Helpers of the two-gateway sync tests: clients of each side, the audit, a relay that can fail. */
import { connect, createServer, type Socket } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { DataSource } from 'typeorm';
import { AuditWriter } from '../../../src/authz';
import { StoreClient, storeChannelOptions } from '../../../src/store';
import { SyncClient } from '../../../src/sync';
import { spiffeChannelCredentials } from '../../../src/tls/client-credentials';
import type { PemKeyPair } from '../../../src/tls/server-identity';
import { TrustStore } from '../../../src/trust';
import { PARTNER, gatewayIdOf, trustDomainOf } from '../../support/federation';
import type { TestGateway } from '../../support/gateway';

/** What acme.test exports to partner.test in these tests. */
export const ML_SHARED_EXPORT = { id: 'ml-shared', partner: { trustDomain: PARTNER }, namespaces: ['ml/shared'], actions: ['list', 'lookup', 'pull', 'pull_referrer'] };

/** A SyncService client holding `svid` (a workload or gateway of `from`), calling `target`. */
export function syncClient(svid: PemKeyPair, from: TestGateway, target: TestGateway): SyncClient {
  const credentials = spiffeChannelCredentials({ svid, trust: from.gateway.get(TrustStore), server: { id: gatewayIdOf(trustDomainOf(target)) } });
  return new SyncClient(`127.0.0.1:${target.gateway.listeners.grpc!.port}`, credentials, { 'grpc.ssl_target_name_override': trustDomainOf(target) });
}

/** A store client holding `svid` of `from`, calling `target` with `authorization: Bearer <grant>` on every call (as a sync worker does). */
export function grantedStoreClient(svid: PemKeyPair, grant: string, from: TestGateway, target: TestGateway): StoreClient {
  const bearer = grpc.credentials.createFromMetadataGenerator((_params, callback) => {
    const md = new grpc.Metadata();
    md.set('authorization', `Bearer ${grant}`);
    callback(null, md);
  });
  const tls = spiffeChannelCredentials({ svid, trust: from.gateway.get(TrustStore), server: { id: gatewayIdOf(trustDomainOf(target)) } });
  return new StoreClient(`127.0.0.1:${target.gateway.listeners.grpc!.port}`, grpc.credentials.combineChannelCredentials(tls, bearer), {
    ...storeChannelOptions(),
    'grpc.ssl_target_name_override': trustDomainOf(target),
  });
}

export function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8')) as Record<string, unknown>;
}

export async function auditRows(gw: TestGateway, method: string): Promise<Array<{ spiffe_id: string; decision: string; reason: string }>> {
  await gw.gateway.get(AuditWriter).flush();
  return gw.gateway.get(DataSource).query('SELECT spiffe_id, decision, reason FROM authz_audit WHERE method = $1 ORDER BY id', [method]);
}

/** A TCP relay to 127.0.0.1:targetPort that can be down (every connection reset at once: the partner is unreachable) or up. */
export async function gatedRelay(targetPort: number): Promise<{ port: number; up: boolean; stallAfter?: number; sent: number; stalled: boolean; resume(): void; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const paused = new Set<Socket>();
  const relay = {
    port: 0,
    up: false,
    /** Once the partner sent this many bytes, its side stops being read (a stalled transfer) until `resume`. */
    stallAfter: undefined as number | undefined,
    sent: 0,
    stalled: false,
    resume() {
      relay.stallAfter = undefined;
      relay.stalled = false;
      for (const sock of paused) sock.resume();
      paused.clear();
    },
    close: async () => undefined as void,
  };
  const server = createServer((inbound) => {
    inbound.on('error', () => undefined);
    if (!relay.up) return void inbound.resetAndDestroy();
    const outbound = connect(targetPort, '127.0.0.1');
    for (const sock of [inbound, outbound]) {
      sockets.add(sock);
      sock.on('close', () => sockets.delete(sock));
      sock.on('error', () => undefined);
    }
    inbound.pipe(outbound);
    outbound.on('data', (chunk: Buffer) => {
      relay.sent += chunk.length;
      if (relay.stallAfter !== undefined && relay.sent >= relay.stallAfter) {
        relay.stalled = true;
        outbound.pause();
        paused.add(outbound);
      }
    });
    outbound.pipe(inbound);
    inbound.on('close', () => outbound.destroy());
    outbound.on('close', () => inbound.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  relay.port = (server.address() as { port: number }).port;
  relay.close = async () => {
    for (const sock of [...sockets]) sock.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return relay;
}


/** The sync's status once `done` holds, or its last status after `ms` (polled every 100 ms). */
export async function syncWhen<S>(ops: { getSync(id: string): Promise<S> }, id: string, done: (s: S) => boolean, ms: number): Promise<S> {
  const deadline = Date.now() + ms;
  let sync = await ops.getSync(id);
  while (!done(sync) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    sync = await ops.getSync(id);
  }
  return sync;
}
