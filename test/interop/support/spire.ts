import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, waitFor } from '../../support/ports';
import { peer, run, startPeer, type RunningPeer } from './peers';

export const SPIRE_TD = 'spire.test';

export interface Spire {
  dir: string;
  serverSocket: string;
  agentSocket: string;
  bundlePort: number;
  /** `spire-server <args> -socketPath …`, failing on a non-zero exit. */
  server(...args: string[]): Promise<string>;
  /** What the SPIRE server logged so far. */
  output(): string;
  stop(): Promise<void>;
}

/** The server's `federation` block: its bundle endpoint, and Parley's when given. */
function federationBlock(bundlePort: number, parley?: { trustDomain: string; url: string; endpointId: string }): string {
  const federatesWith = parley
    ? `federates_with "${parley.trustDomain}" {
        bundle_endpoint_url = "${parley.url}"
        bundle_endpoint_profile "https_spiffe" { endpoint_spiffe_id = "${parley.endpointId}" }
      }`
    : '';
  return `federation {
      bundle_endpoint { address = "127.0.0.1"  port = ${bundlePort}  refresh_hint = "5s" }
      ${federatesWith}
    }`;
}

/**
 * A real SPIRE server (sqlite, memory key manager, join-token node attestation) and agent
 * (unix workload attestation with workload paths) in a short /tmp folder (unix socket paths
 * are limited to 108 bytes).
 */
export async function startSpire(parley?: { trustDomain: string; url: string; endpointId: string }): Promise<Spire> {
  const dir = mkdtempSync('/tmp/spire-');
  const [serverPort, bundlePort] = [await freePort(), await freePort()];
  const serverSocket = join(dir, 'server.sock');
  const agentSocket = join(dir, 'agent.sock');
  mkdirSync(join(dir, 'server'));
  writeFileSync(
    join(dir, 'server.conf'),
    `server {
    bind_address = "127.0.0.1"
    bind_port = "${serverPort}"
    socket_path = "${serverSocket}"
    trust_domain = "${SPIRE_TD}"
    data_dir = "${dir}/server"
    log_level = "INFO"
    ca_key_type = "ec-p256"
    ca_ttl = "24h"
    default_x509_svid_ttl = "1h"
    ${federationBlock(bundlePort, parley)}
  }
  plugins {
    DataStore "sql" { plugin_data { database_type = "sqlite3"  connection_string = "${dir}/server/datastore.sqlite3" } }
    KeyManager "memory" { plugin_data {} }
    NodeAttestor "join_token" { plugin_data {} }
  }
`,
  );
  const procs: RunningPeer[] = [];
  const server = async (...args: string[]) => {
    const r = await run(peer('spire-server'), [...args, '-socketPath', serverSocket], { timeoutMs: 30_000 });
    if (r.code !== 0) throw new Error(`spire-server ${args.join(' ')}: ${r.stdout}${r.stderr}`);
    return r.stdout;
  };
  const serverProc = startPeer(peer('spire-server'), ['run', '-config', join(dir, 'server.conf')]);
  procs.push(serverProc);
  await waitFor(async () => (await run(peer('spire-server'), ['healthcheck', '-socketPath', serverSocket])).code === 0, 60_000, 500);
  const token = /Token: (\S+)/.exec(await server('token', 'generate', '-spiffeID', `spiffe://${SPIRE_TD}/agent`, '-ttl', '600'))?.[1];
  if (token === undefined) throw new Error('spire-server token generate printed no token');
  mkdirSync(join(dir, 'agent'));
  writeFileSync(
    join(dir, 'agent.conf'),
    `agent {
    data_dir = "${dir}/agent"
    log_level = "INFO"
    server_address = "127.0.0.1"
    server_port = "${serverPort}"
    socket_path = "${agentSocket}"
    trust_domain = "${SPIRE_TD}"
    insecure_bootstrap = true
    join_token = "${token}"
  }
  plugins {
    NodeAttestor "join_token" { plugin_data {} }
    KeyManager "memory" { plugin_data {} }
    WorkloadAttestor "unix" { plugin_data { discover_workload_path = true } }
  }
`,
  );
  procs.push(startPeer(peer('spire-agent'), ['run', '-config', join(dir, 'agent.conf')]));
  await waitFor(async () => (await run(peer('spire-agent'), ['healthcheck', '-socketPath', agentSocket])).code === 0, 60_000, 500);
  return {
    dir,
    serverSocket,
    agentSocket,
    bundlePort,
    server,
    output: () => serverProc.output(),
    async stop() {
      for (const p of procs.reverse()) await p.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
