/**
 * `parley sync create|list|show|rm` as a user runs it (the built CLI, a workload SVID of
 * partner.test in files) against partner's gateway, syncing what acme.test exports to it.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireSpiffeId } from '../../../src/spiffe';
import { ExportStore } from '../../../src/sync';
import { ACME, PARTNER, payload, startFederatedPair, workloadClient } from '../../support/federation';
import { devCaOf, type TestGateway } from '../../support/gateway';
import { runCli } from './cli-process';

jest.setTimeout(120_000);

describe('parley sync against two federated gateways', () => {
  let acme: TestGateway;
  let partner: TestGateway;
  let dir: string;
  let id: string[];
  let cid: string;

  beforeAll(async () => {
    ({ acme, partner } = await startFederatedPair());
    dir = mkdtempSync(join(tmpdir(), 'parley-sync-cli-'));
    chmodSync(dir, 0o755);
    const ca = await devCaOf(partner);
    const issued = await ca.issue(requireSpiffeId(`spiffe://${PARTNER}/ops`));
    writeFileSync(join(dir, 'svid.pem'), issued.certPem);
    writeFileSync(join(dir, 'svid.key'), issued.keyPem, { mode: 0o600 });
    writeFileSync(join(dir, 'bundle.pem'), ca.bundlePem());
    id = ['--server', `127.0.0.1:${partner.gateway.listeners.grpc!.port}`, '--svid', join(dir, 'svid.pem'), '--key', join(dir, 'svid.key'), '--bundle', join(dir, 'bundle.pem')];
    await acme.gateway.get(ExportStore).put({ id: 'ml-shared', partner: { trustDomain: PARTNER }, namespaces: ['ml/shared'], actions: ['list', 'lookup', 'pull', 'pull_referrer'] }, 'test');
    const writer = await workloadClient(acme, '/ml/app', acme);
    try {
      cid = await writer.push({ namespace: 'ml/shared', media_type: 'application/octet-stream' }, payload(64 * 1024));
    } finally {
      writer.close();
    }
  });
  afterAll(async () => {
    await Promise.all([acme?.stop(), partner?.stop()]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('creates a sync, watches it to COMPLETED, lists it and removes it, with --json', async () => {
    const created = await runCli(['sync', 'create', '--from', `127.0.0.1:${acme.gateway.listeners.grpc!.port}`, '--partner-trust-domain', ACME, '--namespace', 'ml/shared', '--json', ...id], dir);
    expect([created.code, created.stderr]).toEqual([0, '']);
    const sync = JSON.parse(created.stdout) as { syncId: string; status: string; remoteSpiffeId: string; targetNamespace: string; createdBy: string };
    expect(sync).toMatchObject({ status: 'PENDING', remoteSpiffeId: `spiffe://${ACME}/parley/gateway`, targetNamespace: `partners/${ACME}`, createdBy: `spiffe://${PARTNER}/ops` });

    const watched = await runCli(['sync', 'show', sync.syncId, '--watch', '--json', ...id], dir, 60_000);
    expect([watched.code, watched.stderr]).toEqual([0, '']);
    const last = JSON.parse(watched.stdout.trim().split('\n').at(-1)!) as { status: string; counters: Record<string, number> };
    expect(last).toMatchObject({ status: 'COMPLETED', counters: { discovered: 1, transferred: 1, failed: 0, bytes: 64 * 1024 } });

    const text = await runCli(['sync', 'show', sync.syncId, ...id], dir);
    expect(text.stdout).toContain('status:       COMPLETED');
    expect(text.stdout).toContain('records:      1 copied, 0 already held, 0 failed of 1 found');

    const listed = await runCli(['sync', 'list', '--json', ...id], dir);
    expect((JSON.parse(listed.stdout) as Array<{ syncId: string }>).map((s) => s.syncId)).toEqual([sync.syncId]);

    const removed = await runCli(['sync', 'rm', sync.syncId, ...id], dir);
    expect([removed.code, removed.stdout]).toEqual([0, `deleted sync ${sync.syncId}\n`]);
    const after = await runCli(['sync', 'show', sync.syncId, '--json', ...id], dir);
    expect((JSON.parse(after.stdout) as { status: string }).status).toBe('DELETED');

    // the record stays (DeleteSync never removes what was copied)
    const reader = await workloadClient(partner, '/ml/reader', partner);
    try {
      expect((await reader.lookup([cid])).records.map((r) => r.namespace)).toEqual([`partners/${ACME}/ml/shared`]);
    } finally {
      reader.close();
    }
  });

  it('refuses a sync of its own trust domain: exit 1, the field named', async () => {
    const refused = await runCli(['sync', 'create', '--from', '127.0.0.1:1', '--partner-trust-domain', PARTNER, ...id], dir);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('remoteTrustDomain');
  });
});
