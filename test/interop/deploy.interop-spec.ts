import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import YAML from 'yaml';
import { loadConfig } from '../../src/config';
import { validateRelationship } from '../../src/federation';
import { peer, REPO, run } from './support/peers';

const CHART = resolve(REPO, 'deploy/helm/parley');
const CRDS = resolve(REPO, 'test/interop/deploy/crds');
/** The Kubernetes API version whose schemas (embedded in kubectl-validate v0.0.4) the objects are checked against. */
const KUBE_VERSION = '1.30';
const VALUES = { default: [], 'two-partners': ['ci/two-partners.yaml'], hostpath: ['ci/hostpath.yaml'] } as const;

/** Parsed YAML, read by shape in the assertions (a failed lookup fails the test). */
type Parsed = ReturnType<typeof JSON.parse>;
type Obj = { apiVersion: string; kind: string; metadata: { name: string; annotations?: Record<string, string> }; spec?: Parsed; data?: Record<string, string> };

async function template(valuesFiles: readonly string[], extra: string[] = []): Promise<{ code: number | null; text: string; stderr: string }> {
  const args = ['template', 'r1', CHART, '--namespace', 'parley', ...valuesFiles.flatMap((f) => ['-f', join(CHART, f)]), ...extra];
  const r = await run(peer('helm'), args, { timeoutMs: 60_000 });
  return { code: r.code, text: r.stdout, stderr: r.stderr };
}
function objects(text: string): Obj[] {
  return YAML.parseAllDocuments(text)
    .map((d) => d.toJS() as Obj | null)
    .filter((o): o is Obj => o !== null);
}
const one = (objs: Obj[], kind: string, suffix = '') => {
  const found = objs.filter((o) => o.kind === kind && o.metadata.name.endsWith(suffix));
  expect(found.map((o) => o.metadata.name)).toHaveLength(1);
  return found[0];
};

describe('Helm chart deploy/helm/parley (helm v4.3.2, kubectl-validate v0.0.4)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-chart-'));
  const rendered = new Map<string, Obj[]>();
  beforeAll(async () => {
    for (const [name, files] of Object.entries(VALUES)) {
      const r = await template(files);
      if (r.code !== 0) throw new Error(`helm template (${name}): ${r.stderr}`);
      writeFileSync(join(dir, `${name}.yaml`), r.text);
      rendered.set(name, objects(r.text));
    }
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each(Object.entries(VALUES))('helm lint --strict passes (%s values)', async (_name, files) => {
    const r = await run(peer('helm'), ['lint', '--strict', CHART, ...files.flatMap((f) => ['-f', join(CHART, f)])]);
    expect({ code: r.code, out: r.stdout.includes('0 chart(s) failed') }).toEqual({ code: 0, out: true });
  });

  it.each(Object.keys(VALUES))('every rendered object validates against Kubernetes %s and the CRDs (%s values)'.replace('%s', KUBE_VERSION), async (name) => {
    const r = await run(peer('kubectl-validate'), [join(dir, `${name}.yaml`), '--version', KUBE_VERSION, '--local-crds', CRDS, '--output', 'json']);
    const results = (JSON.parse(r.stdout) as Record<string, { status: string; message?: string }[]>)[join(dir, `${name}.yaml`)];
    expect(results.length).toBe(rendered.get(name)!.length);
    expect(results.filter((x) => x.status !== 'Success')).toEqual([]);
    expect(r.code).toBe(0);
  });

  it('the validator rejects a misspelt field of a Deployment and of a ClusterFederatedTrustDomain', async () => {
    const r = await template(VALUES['two-partners']);
    const bad = r.text.replace('readOnlyRootFilesystem: true', 'readOnlyRootFilesytem: true').replace('bundleEndpointURL:', 'bundleEndpointUrl:');
    writeFileSync(join(dir, 'bad.yaml'), bad);
    const v = await run(peer('kubectl-validate'), [join(dir, 'bad.yaml'), '--version', KUBE_VERSION, '--local-crds', CRDS]);
    expect(v.code).not.toBe(0);
    expect(v.stdout + v.stderr).toContain('readOnlyRootFilesytem');
    expect(v.stdout + v.stderr).toContain('bundleEndpointUrl');
  });

  it.each(Object.keys(VALUES))("the gateway's configuration passes Parley's own validation (%s values)", (name) => {
    const file = join(dir, `${name}.parley.yaml`);
    writeFileSync(file, one(rendered.get(name)!, 'ConfigMap').data!['parley.yaml']);
    const { config } = loadConfig({ file, env: { DATABASE_URL: 'postgres://parley@db:5432/parley' }, cwd: dir });
    expect(config.identity.source).toBe('workload-api');
    for (const rel of config.federation.relationships ?? []) expect(validateRelationship(rel, config.identity.trustDomain).errors).toEqual([]);
  });

  it.each(Object.keys(VALUES))('admin and ops are not exposed beyond the cluster; probes use /healthz and /readyz on the ops port (%s values)', (name) => {
    const objs = rendered.get(name)!;
    const services = objs.filter((o) => o.kind === 'Service');
    const internal = one(objs, 'Service', '-internal');
    expect(internal.spec.type).toBe('ClusterIP');
    expect(internal.spec.ports.map((p: { name: string }) => p.name).sort()).toEqual(['admin', 'ops']);
    for (const svc of services.filter((s) => s !== internal)) {
      for (const p of svc.spec.ports) expect([p.name, p.targetPort]).not.toEqual(expect.arrayContaining(['admin']));
      expect(svc.spec.ports.map((p: { targetPort: string }) => p.targetPort)).not.toEqual(expect.arrayContaining(['admin', 'ops']));
    }
    const container = one(objs, 'Deployment').spec.template.spec.containers[0];
    const opsPort = container.ports.find((p: { name: string }) => p.name === 'ops').containerPort;
    const config = YAML.parse(one(objs, 'ConfigMap').data!['parley.yaml']) as { ops: { port: number }; admin: { port: number } };
    expect(opsPort).toBe(config.ops.port);
    expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'ops' });
    expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'ops' });
    expect(container.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    expect(container.env).toContainEqual({ name: 'DATABASE_URL', valueFrom: { secretKeyRef: { name: 'parley-database', key: 'DATABASE_URL' } } });
  });

  it('the NetworkPolicy lets only this namespace and internalFrom reach admin and ops', () => {
    const policy = one(rendered.get('two-partners')!, 'NetworkPolicy');
    const internalRule = policy.spec.ingress.find((r: { ports: { port: string }[] }) => r.ports.some((p) => p.port === 'admin'));
    expect(internalRule.ports.map((p: { port: string }) => p.port).sort()).toEqual(['admin', 'ops']);
    expect(internalRule.from).toEqual([{ podSelector: {} }, { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }]);
    for (const rule of policy.spec.ingress.filter((r: unknown) => r !== internalRule)) {
      expect(rule.ports.map((p: { port: string }) => p.port)).not.toEqual(expect.arrayContaining(['admin']));
      expect(rule.ports.map((p: { port: string }) => p.port)).not.toEqual(expect.arrayContaining(['ops']));
    }
  });

  it('replicas never migrate: a pre-install/pre-upgrade Job does, unless migrations are off', () => {
    for (const name of ['default', 'two-partners']) {
      const objs = rendered.get(name)!;
      expect(YAML.parse(one(objs, 'ConfigMap').data!['parley.yaml']).database.migrationsRun).toBe(false);
      const job = one(objs, 'Job', '-migrate');
      expect(job.metadata.annotations?.['helm.sh/hook']).toBe('pre-install,pre-upgrade');
      expect(job.spec.template.spec.containers[0].args).toEqual(['migrate']);
      // Hooks run before the chart's other objects exist: the Job needs no ConfigMap.
      expect(JSON.stringify(job.spec.template.spec.volumes)).not.toContain('configMap');
    }
    const single = rendered.get('hostpath')!;
    expect(single.filter((o) => o.kind === 'Job')).toEqual([]);
    expect(YAML.parse(one(single, 'ConfigMap').data!['parley.yaml']).database.migrationsRun).toBe(true);
  });

  it('one partner list drives both: ClusterFederatedTrustDomains and Parley relationships are the same partners', () => {
    const objs = rendered.get('two-partners')!;
    const cftds = objs.filter((o) => o.kind === 'ClusterFederatedTrustDomain').map((o) => o.spec);
    const rels = (YAML.parse(one(objs, 'ConfigMap').data!['parley.yaml']) as { federation: { relationships: Parsed[] } }).federation.relationships;
    expect(cftds).toHaveLength(2);
    const fromSpire = cftds.map((s) => ({
      trustDomain: s.trustDomain,
      profile: s.bundleEndpointProfile.type,
      endpointUrls: [s.bundleEndpointURL],
      ...(s.bundleEndpointProfile.type === 'https_spiffe' ? { endpointSpiffeId: s.bundleEndpointProfile.endpointSPIFFEID, bootstrapBundle: s.trustDomainBundle } : {}),
    }));
    expect(rels).toEqual(fromSpire);
    const spiffeId = one(objs, 'ClusterSPIFFEID').spec;
    expect(spiffeId.federatesWith).toEqual(cftds.map((s) => s.trustDomain));
    expect(spiffeId.spiffeIDTemplate).toBe('spiffe://acme.example/parley/gateway');
    expect(spiffeId.dnsNameTemplates).toEqual(expect.arrayContaining(['r1-parley-grpc.parley.svc.cluster.local', 'parley.acme.example']));
    expect(spiffeId.podSelector.matchLabels['app.kubernetes.io/component']).toBe('gateway');
  });

  it('the Workload API socket comes from the SPIFFE CSI driver or a hostPath, as spire.socket.type says', () => {
    const volume = (name: string) => one(rendered.get(name)!, 'Deployment').spec.template.spec.volumes.find((v: { name: string }) => v.name === 'spiffe-workload-api');
    expect(volume('default')).toEqual({ name: 'spiffe-workload-api', csi: { driver: 'csi.spiffe.io', readOnly: true } });
    expect(volume('hostpath')).toEqual({ name: 'spiffe-workload-api', hostPath: { path: '/run/spire/agent-sockets', type: 'Directory' } });
    const address = (name: string) => YAML.parse(one(rendered.get(name)!, 'ConfigMap').data!['parley.yaml']).identity.workloadApi.address;
    expect([address('default'), address('hostpath')]).toEqual(['unix:///spiffe-workload-api/spire-agent.sock', 'unix:///spiffe-workload-api/agent.sock']);
  });

  it('refuses to render a https_spiffe partner without its bundle, or an unknown socket type', async () => {
    const noBundle = await template([], ['--set', 'partners[0].trustDomain=p.example,partners[0].bundleEndpointURL=https://p.example,partners[0].bundleEndpointProfile.type=https_spiffe,partners[0].bundleEndpointProfile.endpointSPIFFEID=spiffe://p.example/spire/server']);
    expect(noBundle.code).not.toBe(0);
    expect(noBundle.stderr).toContain('partners[0].trustDomainBundle is required for https_spiffe');
    const badSocket = await template([], ['--set', 'spire.socket.type=nfs']);
    expect(badSocket.code).not.toBe(0);
    expect(badSocket.stderr).toContain('spire.socket.type must be csi or hostPath');
  });
});
