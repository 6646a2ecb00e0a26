/**
 * Sync between two real gateways on 127.0.0.1 (each its own PostgreSQL database, real mTLS,
 * federated both ways through their bundle endpoints): acme.test exports ml/shared to
 * partner.test; partner's gateway asks for a grant with its own SVID and syncs.
 */
import { X509Certificate } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { DataSource } from 'typeorm';
import { AuditWriter } from '../../../src/authz';
import { SyncClient, ExportStore } from '../../../src/sync';
import { thumbprintOfFingerprint } from '../../../src/sync/domain/grant';
import { spiffeChannelCredentials } from '../../../src/tls/client-credentials';
import type { PemKeyPair } from '../../../src/tls/server-identity';
import { TrustStore } from '../../../src/trust';
import { ACME, PARTNER, gatewayIdOf, issueSvid, startFederatedPair, trustDomainOf } from '../../support/federation';
import type { TestGateway } from '../../support/gateway';

jest.setTimeout(120_000);

/** A SyncService client holding `svid` (a workload or gateway of `from`), calling `target`. */
function syncClient(svid: PemKeyPair, from: TestGateway, target: TestGateway): SyncClient {
  const credentials = spiffeChannelCredentials({ svid, trust: from.gateway.get(TrustStore), server: { id: gatewayIdOf(trustDomainOf(target)) } });
  return new SyncClient(`127.0.0.1:${target.gateway.listeners.grpc!.port}`, credentials, { 'grpc.ssl_target_name_override': trustDomainOf(target) });
}

function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8')) as Record<string, unknown>;
}

async function auditRows(gw: TestGateway, method: string): Promise<Array<{ spiffe_id: string; decision: string; reason: string }>> {
  await gw.gateway.get(AuditWriter).flush();
  return gw.gateway.get(DataSource).query('SELECT spiffe_id, decision, reason FROM authz_audit WHERE method = $1 ORDER BY id', [method]);
}

const CREDENTIALS = '/parley.sync.v1.SyncService/RequestRegistryCredentials';

describe('sync between two gateways', () => {
  let acme: TestGateway;
  let partner: TestGateway;
  let partnerGatewaySvid: PemKeyPair;

  beforeAll(async () => {
    ({ acme, partner } = await startFederatedPair());
    partnerGatewaySvid = await issueSvid(partner, '/parley/gateway');
  });
  afterAll(async () => {
    await Promise.all([acme?.stop(), partner?.stop()]);
  });

  describe('RequestRegistryCredentials', () => {
    it('refuses a partner to which nothing is exported: PERMISSION_DENIED with the generic text, the reason in the audit', async () => {
      const client = syncClient(partnerGatewaySvid, partner, acme);
      try {
        const err = await client.requestRegistryCredentials().then(
          () => undefined,
          (e: grpc.ServiceError) => e,
        );
        expect([err?.code, err?.details]).toEqual([grpc.status.PERMISSION_DENIED, 'permission denied']);
      } finally {
        client.close();
      }
      const rows = await auditRows(acme, CREDENTIALS);
      expect(rows.at(-1)).toEqual({ spiffe_id: gatewayIdOf(PARTNER).toString(), decision: 'deny', reason: 'permission_denied: nothing is exported to you' });
    });

    it('grants what is exported, to the caller, bound to the certificate it called with', async () => {
      await acme.gateway.get(ExportStore).put({ id: 'ml-shared', partner: { trustDomain: PARTNER }, namespaces: ['ml/shared'], actions: ['list', 'lookup', 'pull', 'pull_referrer'] }, 'test');
      const client = syncClient(partnerGatewaySvid, partner, acme);
      try {
        const res = await client.requestRegistryCredentials();
        expect(res).toMatchObject({ success: true, insecure: false, repository_name: 'ml/shared', scope: [{ export_id: 'ml-shared', namespaces: ['ml/shared'], actions: ['list', 'lookup', 'pull', 'pull_referrer'] }] });
        const claims = claimsOf(res.token);
        const leaf = new X509Certificate(partnerGatewaySvid.certChainPem);
        expect(claims).toMatchObject({ iss: gatewayIdOf(ACME).toString(), aud: gatewayIdOf(ACME).toString(), sub: gatewayIdOf(PARTNER).toString(), cnf: { 'x5t#S256': thumbprintOfFingerprint(leaf.fingerprint256) } });
        expect((claims.exp as number) - (claims.iat as number)).toBe(300);
      } finally {
        client.close();
      }
      expect((await auditRows(acme, CREDENTIALS)).at(-1)).toMatchObject({ spiffe_id: gatewayIdOf(PARTNER).toString(), decision: 'allow' });
    });
  });
});
