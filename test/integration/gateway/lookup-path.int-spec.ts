import { Session } from 'node:inspector/promises';
import { relative } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { requireSpiffeId } from '../../../src/spiffe';
import { StoreClient, storeChannelOptions, storePackageDefinition, STORE_SERVICE } from '../../../src/store';
import { spiffeChannelCredentials } from '../../../src/tls';
import { TrustStore } from '../../../src/trust';
import { devCaOf, startTestGateway, type TestGateway } from '../../support/gateway';

/**
 * The data path of one Lookup, measured: the gateway's own files with a function that runs
 * on every Lookup call on an open connection (V8 precise coverage, call counts), leaving out
 * functions that also run while no call does (timers of the audit writer, monitors, …).
 * The README's architecture section lists these files; the path stays within 12 of them.
 */
const README_LOOKUP_PATH = [
  'src/grpc/call-interceptor.ts',
  'src/tls/peer-directory.ts',
  'src/authz/call-authorizer.ts',
  'src/ops/fast-histogram.ts',
  'src/authz/audit/audit-writer.ts',
  'src/authz/audit/domain/bounded-queue.ts',
  'src/grpc/call-guard.ts',
  'src/grpc/index.ts',
  'src/store/store.grpc-service.ts',
  'src/store/store-wire.ts',
  'src/store/store.repository.ts',
  'src/store/domain/record-cache.ts',
];

jest.setTimeout(120_000);

/** Calls per function (`file#name@offset`) of our files since the previous take (each take resets the counters). */
type Counts = Map<string, number>;

async function takeCounts(session: Session): Promise<Counts> {
  const { result } = await session.post('Profiler.takePreciseCoverage');
  const counts: Counts = new Map();
  for (const script of result) {
    const file = relative(process.cwd(), script.url.replace(/^file:\/\//, ''));
    if (!file.startsWith('src/') || file.endsWith('.spec.ts')) continue;
    for (const fn of script.functions) {
      const n = fn.ranges[0]?.count ?? 0;
      if (n > 0) counts.set(`${file}#${fn.functionName}@${fn.ranges[0]!.startOffset}`, n);
    }
  }
  return counts;
}

describe('the data path of one Lookup', () => {
  let gw: TestGateway;
  let lookup: (cid: string) => Promise<unknown>;
  let close: () => void;
  let cid: string;
  const session = new Session();

  beforeAll(async () => {
    gw = await startTestGateway();
    const ca = await devCaOf(gw);
    const issued = await ca.issue(requireSpiffeId('spiffe://acme.test/ns/ml/sa/trainer'));
    const creds = spiffeChannelCredentials({ svid: { certChainPem: issued.certPem, keyPem: issued.keyPem }, trust: gw.gateway.get(TrustStore), server: { id: requireSpiffeId('spiffe://acme.test/parley/gateway') } });
    const options = { ...storeChannelOptions(), 'grpc.ssl_target_name_override': 'acme.test' };
    const address = `127.0.0.1:${gw.gateway.listeners.grpc!.port}`;
    const store = new StoreClient(address, creds, options);
    cid = await store.push({ namespace: 'ml/path', media_type: 'text/plain', annotations: {} }, Buffer.from('lookup path'));
    store.close();
    // A bare grpc-js client, so no client-side file of ours runs while measuring.
    const Service = grpc.makeGenericClientConstructor(storePackageDefinition()[STORE_SERVICE] as grpc.ServiceDefinition, 'StoreService');
    const client = new Service(address, creds, options) as unknown as Record<string, (req: unknown, cb: (err: unknown, res: unknown) => void) => void> & grpc.Client;
    close = () => client.close();
    lookup = (c) => new Promise((resolve, reject) => client.Lookup({ refs: [{ cid: c }] }, (err, res) => (err ? reject(err) : resolve(res))));
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.startPreciseCoverage', { callCount: true, detailed: false });
  });
  afterAll(async () => {
    await session.post('Profiler.stopPreciseCoverage').catch(() => undefined);
    session.disconnect();
    close?.();
    await gw?.stop();
  });

  it('passes through at most 12 of our files, the ones the README names', async () => {
    for (let i = 0; i < 50; i++) await lookup(cid); // warm: the connection, the memo, the record cache
    await takeCounts(session); // resets the counters
    await new Promise((r) => setTimeout(r, 300));
    const idle = await takeCounts(session);
    for (let i = 0; i < 200; i++) await lookup(cid);
    const during = await takeCounts(session);
    // Functions that ran for the calls (at least once per call), not those of timers that also run when idle.
    const perCall = [...during].filter(([fn, n]) => n >= 200 && !idle.has(fn)).map(([fn]) => fn);
    const path = [...new Set(perCall.map((fn) => fn.slice(0, fn.indexOf('#'))))].sort();
    process.stdout.write(`lookup path (${path.length} files):\n  ${path.join('\n  ')}\n`);
    if (process.env.LOOKUP_PATH_FUNCTIONS) process.stdout.write(`${perCall.sort().join('\n')}\n`);
    expect(path.length).toBeLessThanOrEqual(12);
    expect(path.filter((f) => !README_LOOKUP_PATH.includes(f))).toEqual([]);
  });
});
