import { createHash, randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DevCaWorkloadProvider } from '../../../src/identity/dev-ca/dev-ca-workload-provider';
import { WorkloadApiServer } from '../../../src/identity/workload-api/workload-api-server';
import { requireSpiffeId } from '../../../src/spiffe';
import { ContentId } from '../../../src/store/domain/content-id';
import { devCaOf, startTestGateway, type TestGateway } from '../../support/gateway';
import { cleanEnv } from '../../support/parley-process';
import { CLI_ENTRY } from './cli-process';

jest.setTimeout(120_000);

const WORKLOAD_ID = 'spiffe://acme.test/ns/ml/sa/trainer';

/** Runs the built CLI with exactly the environment given (SPIFFE_ENDPOINT_SOCKET only when set here). */
function cli(args: string[], cwd: string, env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const base = cleanEnv();
  delete base.SPIFFE_ENDPOINT_SOCKET;
  const child = spawn(process.execPath, [CLI_ENTRY, ...args], { cwd, env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  return new Promise((resolve) =>
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    }),
  );
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

describe('store commands with an identity from the SPIFFE Workload API (no files)', () => {
  let gw: TestGateway;
  let provider: DevCaWorkloadProvider;
  let agent: WorkloadApiServer;
  let dir: string;
  let socket: string;
  let server: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'parley-wl-cli-'));
    chmodSync(dir, 0o755);
    gw = await startTestGateway();
    server = `127.0.0.1:${gw.gateway.listeners.grpc!.port}`;
    // The real Workload API protocol on a unix socket, fed by the gateway's own dev CA.
    provider = new DevCaWorkloadProvider(await devCaOf(gw), requireSpiffeId(WORKLOAD_ID));
    await provider.start();
    agent = new WorkloadApiServer(provider, { graceMs: 50 });
    socket = `unix://${join(dir, 'agent.sock')}`;
    await agent.listen(socket);
  });

  afterAll(async () => {
    provider?.stop();
    await agent?.close();
    await gw?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function roundTrip(name: string, identity: string[], env: Record<string, string>): Promise<void> {
    const payload = randomBytes(3 * 1024 * 1024 + 5);
    const file = join(dir, `${name}.bin`);
    writeFileSync(file, payload);
    const push = await cli(['push', file, '-n', `ml/${name}`, '--quiet', '--server', server, ...identity], dir, env);
    expect(push.stderr).toBe('');
    expect(push.code).toBe(0);
    const cid = push.stdout.trim();
    expect(cid).toBe(ContentId.of(payload).toString());

    const out = join(dir, `${name}.pulled`);
    const pull = await cli(['pull', cid, '-o', out, '--quiet', '--server', server, ...identity], dir, env);
    expect(pull.stderr).toBe('');
    expect(pull.code).toBe(0);
    expect(sha256(readFileSync(out))).toBe(sha256(payload));

    // The record names the workload the Workload API handed out as its creator.
    const lookup = await cli(['lookup', cid, '--json', '--server', server, ...identity], dir, env);
    expect(lookup.code).toBe(0);
    expect(JSON.parse(lookup.stdout)).toEqual([expect.objectContaining({ cid, namespace: `ml/${name}`, size: payload.length, creatorSpiffeId: WORKLOAD_ID })]);
  }

  it('push then pull with --workload-api unix:///… only', async () => {
    await roundTrip('flag', ['--workload-api', socket], {});
  });

  it('push then pull with SPIFFE_ENDPOINT_SOCKET set instead of the flag', async () => {
    await roundTrip('env', [], { SPIFFE_ENDPOINT_SOCKET: socket });
  });

  it('without the flag and without SPIFFE_ENDPOINT_SOCKET there is no identity: a clear failure', async () => {
    const none = await cli(['lookup', ContentId.of(Buffer.from('x')).toString(), '--server', server], dir);
    expect(none.code).toBe(1);
    expect(none.stdout).toBe('');
    expect(none.stderr).toBe(
      'parley: no client identity: give --identity DIR (the directory `parley dev issue --out DIR` wrote), or --svid, --key and --bundle, or --workload-api unix:///path (or set PARLEY_IDENTITY or SPIFFE_ENDPOINT_SOCKET)\n',
    );
  });
});
