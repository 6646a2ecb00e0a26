import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import YAML from 'yaml';
import { loadConfig } from '../../../src/config';
import { validateRelationship } from '../../../src/federation';

const ROOT = resolve(__dirname, '../../..');
const ORGS = [
  { org: 'acme', td: 'acme.test', partner: 'partner' },
  { org: 'partner', td: 'partner.test', partner: 'acme' },
] as const;

interface Service {
  image?: string;
  user?: string;
  pid?: string;
  read_only?: boolean;
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  networks?: string[];
  depends_on?: Record<string, { condition: string }>;
}
const compose = YAML.parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
  networks: Record<string, unknown>;
};
const services = compose.services;
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

/** `key = "value"` (or a bare number) of a SPIRE HCL file; first occurrence. */
function hcl(text: string, key: string): string | undefined {
  return new RegExp(`^\\s*${key}\\s*=\\s*"?([^"\\s]+)"?`, 'm').exec(text)?.[1];
}
/** Host path and container path of a bind mount whose container path is `target`. */
function mount(service: Service, target: string): { source: string; ro: boolean } | undefined {
  for (const v of service.volumes ?? []) {
    const [source, dest, mode] = v.split(':');
    if (dest === target) return { source, ro: mode === 'ro' };
  }
  return undefined;
}

describe('docker-compose.yml: two organizations federated', () => {
  it('every bind-mounted file exists, every named volume and network is declared, every dependency is a service', () => {
    for (const [name, svc] of Object.entries(services)) {
      for (const v of svc.volumes ?? []) {
        const source = v.split(':')[0];
        if (source.startsWith('./')) expect({ name, source, exists: existsSync(join(ROOT, source)) }).toEqual({ name, source, exists: true });
        else expect({ name, source, declared: source in compose.volumes }).toEqual({ name, source, declared: true });
      }
      for (const n of svc.networks ?? []) expect(Object.keys(compose.networks)).toContain(n);
      for (const dep of Object.keys(svc.depends_on ?? {})) expect(Object.keys(services)).toContain(dep);
      if (svc.pid) expect(Object.keys(services)).toContain(svc.pid.replace(/^service:/, ''));
    }
  });

  describe.each(ORGS)('$td', ({ org, td, partner }) => {
    const gw = services[`parley-${org}`];
    const agent = services[`spire-agent-${org}`];
    const server = services[`spire-server-${org}`];
    const register = services[`spire-register-${org}`];
    const serverConf = read(mount(server, '/etc/spire/server.conf')!.source);
    const agentConf = read(mount(agent, '/etc/spire/agent.conf')!.source);
    const configMount = mount(gw, '/etc/parley/parley.yaml')!;

    it("Parley's mounted configuration passes Parley's own validation, with the service's environment", () => {
      expect(configMount.ro).toBe(true);
      const { config } = loadConfig({ file: join(ROOT, configMount.source), env: gw.environment, cwd: ROOT });
      expect(config.identity).toMatchObject({ trustDomain: td, source: 'workload-api', spiffeId: `spiffe://${td}/parley/gateway` });
      expect(config.database.url).toBe(gw.environment?.DATABASE_URL);
      expect(new URL(config.database.url!).hostname).toBe(`postgres-${org}`);
      expect(config.database.migrationsRun).toBe(true);
      expect(gw.command).toEqual(['serve', '--config', '/etc/parley/parley.yaml']);
      // The gateway is on the partners' network too: admin and ops stay inside the container.
      expect(gw.networks).toContain('federation');
      expect([config.admin.host, config.ops.host]).toEqual(['127.0.0.1', '127.0.0.1']);
      for (const relationship of config.federation.relationships ?? []) expect(validateRelationship(relationship, td).errors).toEqual([]);
    });

    it('the gateway reads the Workload API socket its agent serves, from the volume they share', () => {
      const { config } = loadConfig({ file: join(ROOT, configMount.source), env: gw.environment, cwd: ROOT });
      const socket = new URL(config.identity.workloadApi.address!).pathname;
      expect(hcl(agentConf, 'socket_path')).toBe(socket);
      const dir = socket.slice(0, socket.lastIndexOf('/'));
      const agentVolume = agent.volumes?.find((v) => v.split(':')[1] === dir)?.split(':')[0];
      expect(agentVolume).toBeDefined();
      expect(mount(gw, dir)).toEqual({ source: agentVolume, ro: true });
      // The unix workload attestor needs to see the gateway's process.
      expect(gw.pid).toBe(`service:spire-agent-${org}`);
    });

    it('server, agent and gateway agree on the trust domain; the agent reaches its server', () => {
      expect(hcl(serverConf, 'trust_domain')).toBe(td);
      expect(hcl(agentConf, 'trust_domain')).toBe(td);
      expect(hcl(agentConf, 'server_address')).toBe(`spire-server-${org}`);
      expect(hcl(agentConf, 'server_port')).toBe(hcl(serverConf, 'bind_port'));
      expect(register.environment).toMatchObject({ TRUST_DOMAIN: td, GATEWAY_DNS: `parley-${org}` });
    });

    it("the SPIRE server federates with the partner's bundle endpoint, reachable on the federation network", () => {
      const other = ORGS.find((o) => o.org === partner)!;
      const otherConf = read(mount(services[`spire-server-${partner}`], '/etc/spire/server.conf')!.source);
      const block = new RegExp(`federates_with "${other.td}" \\{([\\s\\S]*?)\\n    \\}`).exec(serverConf)?.[1] ?? '';
      const url = new URL(hcl(block, 'bundle_endpoint_url') ?? 'https://missing');
      expect(url.hostname).toBe(`spire-server-${partner}`);
      expect(url.port).toBe(/bundle_endpoint \{[\s\S]*?port = (\d+)/.exec(otherConf)?.[1]);
      expect(hcl(block, 'endpoint_spiffe_id')).toBe(`spiffe://${other.td}/spire/server`);
      expect(services[`spire-server-${partner}`].networks).toContain('federation');
      expect(register.environment?.PARTNER_TRUST_DOMAIN).toBe(other.td);
    });

    it('the registration entries name the uid the gateway runs as, and the gateway runs read-only', () => {
      const script = read('deploy/compose/scripts/register.sh');
      const uid = /entry "spiffe:\/\/\$TRUST_DOMAIN\/parley\/gateway" unix:uid:(\d+)/.exec(script)?.[1];
      expect(gw.user).toBe(`${uid}:${uid}`);
      expect(read('Dockerfile')).toMatch(new RegExp(`^USER ${uid}:${uid}$`, 'm'));
      expect(gw.read_only).toBe(true);
      expect(mount(gw, '/var/lib/parley')?.source).toBe(`parley-${org}`);
    });

    it('PostgreSQL, the SPIRE agent and the registration stay off the federation network', () => {
      for (const name of [`postgres-${org}`, `spire-agent-${org}`, `spire-register-${org}`]) expect(services[name].networks).toEqual([org]);
    });
  });

  it("the clients: acme's pushes to acme's gateway, partner's pulls from there across the federation", () => {
    const push = read('deploy/compose/scripts/client-push.sh');
    const pull = read('deploy/compose/scripts/client-pull.sh');
    for (const script of [push, pull]) expect(script).toContain('--server parley-acme:8443 --server-id spiffe://acme.test/parley/gateway');
    expect(services['client-acme'].pid).toBe('service:spire-agent-acme');
    expect(services.client.pid).toBe('service:spire-agent-partner');
    expect(services.client.networks).toContain('federation');
    const uid = /unix:uid:(\d+)$/m.exec(read('deploy/compose/scripts/register.sh'))?.[1];
    for (const c of [services['client-acme'], services.client]) {
      expect(c.user).toBe(`${uid}:${uid}`);
      expect(c.environment?.SPIFFE_ENDPOINT_SOCKET).toBe('unix:///run/spire/agent/agent.sock');
    }
    expect(services.client.depends_on?.['client-acme']).toEqual({ condition: 'service_completed_successfully' });
  });
});
