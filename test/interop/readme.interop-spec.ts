import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { startGateway, type Gateway, type Svid } from './support/gateway';
import { INTEROP_DIR, PYTHON, REPO, peer, run } from './support/peers';

/** The code block after `<!-- interop:<kind> -->` in the README's "Calling Parley from any gRPC client". */
function recipe(kind: string): string {
  const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Calling Parley from any gRPC client'), readme.indexOf('## Benchmarks'));
  const at = section.indexOf(`<!-- interop:${kind} -->`);
  if (at < 0) throw new Error(`README: no interop:${kind} recipe`);
  const block = /```[a-z]*\n([\s\S]*?)```/.exec(section.slice(at));
  if (block === null) throw new Error(`README: interop:${kind} has no code block`);
  return block[1];
}

/** The README's recipes, run as written against a gateway whose SVID carries the DNS name localhost. */
describe('README: calling Parley from any gRPC client', () => {
  let gw: Gateway;
  let svid: Svid;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    gw = await startGateway({ identity: { devCa: { dnsNames: ['localhost'] } } });
    svid = await gw.issue('spiffe://parley.local/ns/demo/reader');
    env = { ...process.env, ADDR: `localhost:${gw.grpcPort}`, BUNDLE: svid.bundle, CERT: svid.cert, KEY: svid.key, SVID_DIR: dirname(svid.cert) };
  });
  afterAll(() => gw?.stop());

  it('the Python recipe prints SERVING', async () => {
    const file = join(gw.dir, 'recipe.py');
    writeFileSync(file, recipe('python'));
    const r = await run(PYTHON, [file], { env });
    expect({ code: r.code, out: r.stdout.trim(), err: r.stderr }).toEqual({ code: 0, out: 'SERVING', err: '' });
  });

  it('the grpcurl recipe lists, describes, pushes and lists', async () => {
    const r = await run('bash', ['-euo', 'pipefail', '-c', recipe('sh')], { env: { ...env, PATH: `${dirname(peer('grpcurl'))}:${process.env.PATH ?? ''}` } });
    expect({ code: r.code, err: r.stderr }).toEqual({ code: 0, err: '' });
    expect(r.stdout).toContain('parley.store.v1.StoreService');
    expect(r.stdout).toContain('map<string, string> annotations = 3;');
    expect(r.stdout).toMatch(/"cid": "b[a-z2-7]+"/);
    expect(r.stdout).toContain('"namespace": "demo"');
  });

  it('the Go recipe is the code the go-spiffe harness runs', () => {
    const source = readFileSync(join(INTEROP_DIR, 'go/harness/client.go'), 'utf8');
    for (const line of recipe('go').split('\n').filter((l) => l.trim() !== '')) expect(source).toContain(line.trim());
  });
});
