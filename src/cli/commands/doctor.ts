/**
 * `parley doctor`: checks the path from this client to a gateway, in order, and says in words
 * what is wrong: own SVID, gateway reachable, its SPIFFE ID, our admission (federation,
 * revocation, allowlist), a store read allowed for us, the gateway's readiness.
 */
import { createHash, randomBytes } from 'node:crypto';
import { connect as tcpConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import type { Command } from 'commander';
import { loadProto } from '../../common';
import { spiffeChannelCredentials, spiffeTlsConnectOptions } from '../../tls';
import { ContentId, StoreClient, storeChannelOptions } from '../../store/client';
import { DEFAULT_SERVER, failureContext, loadClientMaterial, parseServerAddress, tlsServerName, withClientIdentityOptions, type ClientIdentityOptions, type ClientMaterial } from '../client-identity';
import { reportFailure } from '../context';
import { runChecks, renderReport, type Check, type CheckOutcome } from '../domain/doctor-checks';
import { explainFailure, formatTimeLeft, svidValidityProblem, type FailureContext } from '../domain/explain-failure';

interface DoctorOpts extends ClientIdentityOptions {
  ops?: string;
  json?: boolean;
  timeout: string;
}

/** SVIDs with less time left than this are a warning. */
const LOW_TIME_LEFT_MS = 5 * 60_000;

interface DoctorState {
  opts: DoctorOpts;
  address: string;
  timeoutMs: number;
  material?: ClientMaterial;
  context?: FailureContext;
}

function failWith(message: string, ctx: FailureContext | undefined, code?: string): CheckOutcome {
  return { status: 'fail', summary: message, hints: ctx === undefined ? [] : explainFailure({ code, message }, ctx) };
}

function identityCheck(s: DoctorState): Check {
  return {
    name: 'identity',
    title: 'own SVID',
    async run() {
      const m = await loadClientMaterial(s.opts);
      s.material = m;
      s.context = failureContext(m, 'grpc', s.address);
      const id = m.svid.id.toString();
      const facts = { spiffeId: id, from: m.from, notAfter: m.svid.notAfter.toISOString() };
      const problem = svidValidityProblem({ id, notBefore: new Date(m.svid.leaf.validFrom), notAfter: m.svid.notAfter, from: m.from }, new Date());
      if (problem !== undefined) return { status: 'fail', summary: problem, facts };
      const left = m.svid.notAfter.getTime() - Date.now();
      const summary = `${id} from ${m.from}, valid until ${m.svid.notAfter.toISOString()} (${formatTimeLeft(left)} left)`;
      if (left < LOW_TIME_LEFT_MS) return { status: 'warn', summary, hints: [`it expires soon: issue a new one (parley dev issue --id ${id} --out DIR)`], facts };
      return { status: 'ok', summary, facts };
    },
  };
}

function reachableCheck(s: DoctorState): Check {
  return {
    name: 'reachable',
    title: 'gateway reachable',
    run: () =>
      new Promise<CheckOutcome>((resolve) => {
        const { host, port } = parseServerAddress(s.address);
        const socket = tcpConnect({ host: host.replace(/^\[|\]$/g, ''), port, timeout: s.timeoutMs });
        const done = (o: CheckOutcome) => {
          socket.destroy();
          resolve(o);
        };
        socket.once('connect', () => done({ status: 'ok', summary: `${s.address} accepts TCP connections` }));
        socket.once('timeout', () => done({ status: 'fail', summary: `${s.address} did not answer within ${s.timeoutMs} ms`, hints: ['check --server, firewalls and that the gateway is running'] }));
        socket.once('error', (err) => done(failWith(`${s.address}: ${err.message}`, s.context)));
      }),
  };
}

function serverIdCheck(s: DoctorState): Check {
  return {
    name: 'server-identity',
    title: "gateway's SPIFFE ID",
    run: () =>
      new Promise<CheckOutcome>((resolve) => {
        const m = s.material!;
        const { host, port } = parseServerAddress(s.address);
        const tls = spiffeTlsConnectOptions({ svid: { certChainPem: m.svid.certChainPem(), keyPem: m.svid.privateKeyPem() }, trust: m.trust, server: m.server });
        const socket = tlsConnect({ ...tls, host: host.replace(/^\[|\]$/g, ''), port, servername: tlsServerName(host, m.server), ALPNProtocols: ['h2'], timeout: s.timeoutMs });
        const done = (o: CheckOutcome) => {
          socket.destroy();
          resolve(o);
        };
        socket.once('secureConnect', () => {
          const uri = /URI:(spiffe:\/\/[^,\s]+)/.exec(socket.getPeerCertificate().subjectaltname ?? '')?.[1] ?? 'unknown';
          const expected = 'id' in m.server ? m.server.id.toString() : `a member of ${m.server.memberOf.name}`;
          done({ status: 'ok', summary: `the gateway proved it is ${uri} (expected ${expected}, verified with ${m.bundleFrom})`, facts: { serverId: uri } });
        });
        socket.once('timeout', () => done({ status: 'fail', summary: `no TLS handshake with ${s.address} within ${s.timeoutMs} ms`, hints: ['is this a Parley gRPC port? (--server HOST:PORT)'] }));
        socket.once('error', (err) => done(failWith(`TLS with ${s.address}: ${err.message}`, s.context)));
      }),
  };
}

type HealthClient = grpc.Client & { Check(req: { service: string }, o: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: { status: string }) => void): void };

function channel(s: DoctorState): { credentials: grpc.ChannelCredentials; options: grpc.ChannelOptions } {
  const m = s.material!;
  const { host } = parseServerAddress(s.address);
  const name = tlsServerName(host, m.server);
  const credentials = spiffeChannelCredentials({ svid: { certChainPem: m.svid.certChainPem(), keyPem: m.svid.privateKeyPem() }, trust: m.trust, server: m.server });
  return { credentials, options: name === undefined ? {} : { 'grpc.ssl_target_name_override': name } };
}

function admissionCheck(s: DoctorState): Check {
  return {
    name: 'admission',
    title: 'gateway admits us',
    async run() {
      const { credentials, options } = channel(s);
      const { HEALTH_PROTO } = await import('../../grpc'); // loaded when run: the context brings NestJS
      const pkg = grpc.loadPackageDefinition(loadProto(HEALTH_PROTO)) as unknown as { grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } } };
      const client = new pkg.grpc.health.v1.Health(s.address, credentials, options) as unknown as HealthClient;
      try {
        const status = await new Promise<string>((resolve, reject) =>
          client.Check({ service: '' }, { deadline: Date.now() + s.timeoutMs }, (err, res) => (err ? reject(err) : resolve(res?.status ?? ''))),
        );
        return { status: 'ok', summary: `our certificate is accepted; gRPC health: ${status}`, facts: { health: status } };
      } catch (err) {
        const e = err as grpc.ServiceError;
        if (e.code === grpc.status.PERMISSION_DENIED) return { status: 'ok', summary: 'our certificate is accepted (the policy does not let us read gRPC health)' };
        return failWith(`${grpc.status[e.code] ?? 'error'}: ${e.details || e.message}`, s.context, grpc.status[e.code]);
      } finally {
        client.close();
      }
    },
  };
}

function lookupCheck(s: DoctorState): Check {
  return {
    name: 'store-lookup',
    title: 'Store.Lookup allowed for us',
    async run() {
      const { credentials, options } = channel(s);
      const client = new StoreClient(s.address, credentials, { ...storeChannelOptions(), ...options });
      const probe = ContentId.parseDigest(`sha256:${createHash('sha256').update(randomBytes(32)).digest('hex')}`).toString();
      try {
        await client.lookup([probe], true);
        return { status: 'ok', summary: `the policy allows ${s.material!.svid.id.toString()} to look up records` };
      } catch (err) {
        const e = err as grpc.ServiceError;
        if (e.code === grpc.status.NOT_FOUND) return { status: 'ok', summary: `the policy allows ${s.material!.svid.id.toString()} to look up records` };
        const message = `${grpc.status[e.code] ?? 'error'}: ${e.details || e.message}`;
        if (e.code === grpc.status.PERMISSION_DENIED) return { status: 'warn', summary: `denied: ${message}`, hints: explainFailure({ code: 'PERMISSION_DENIED', message }, s.context!) };
        return failWith(message, s.context, grpc.status[e.code]);
      } finally {
        client.close();
      }
    },
  };
}

function readinessCheck(s: DoctorState): Check {
  return {
    name: 'readiness',
    title: 'gateway readiness',
    async run() {
      if (s.opts.ops === undefined) return { status: 'skipped', summary: 'not checked: give --ops http://HOST:9464 (the ops port) to check readiness' };
      const url = new URL('/readyz', s.opts.ops);
      let res: Response;
      try {
        res = await fetch(url, { signal: AbortSignal.timeout(s.timeoutMs), redirect: 'manual' });
      } catch (err) {
        return { status: 'fail', summary: `${url.toString()}: ${err instanceof Error ? (err.cause as Error | undefined)?.message ?? err.message : String(err)}`, hints: ['check --ops: the ops port is plain HTTP (default 9464)'] };
      }
      const body = (await res.json().catch(() => ({}))) as { checks?: Array<{ name?: string; ok?: boolean; reason?: string }> };
      const failing = (body.checks ?? []).filter((c) => c.ok === false).map((c) => `${c.name ?? '?'}: ${c.reason ?? 'not ok'}`);
      if (res.status === 200) return { status: 'ok', summary: 'ready', hints: failing };
      return { status: 'fail', summary: `not ready (HTTP ${res.status})`, hints: failing };
    },
  };
}

function parseTimeout(value: string): number {
  const n = Number(value);
  return Number.isFinite(n) && n > 0 ? Math.min(n * 1000, 120_000) : 5000;
}

export function registerDoctor(program: Command): void {
  const cmd = program
    .command('doctor')
    .description('check the path from this client to a gateway and say what is wrong, in words; exits non-zero on the first hard failure')
    .option('--ops <url>', "the gateway's ops URL (plain HTTP, default port 9464) to check its readiness too")
    .option('--timeout <seconds>', 'per check', '5')
    .option('--json', 'print the report as JSON');
  withClientIdentityOptions(cmd);
  cmd.addHelpText(
    'after',
    `
Checks, in order (a failure stops the run; later checks are skipped):
  own SVID            present, valid, time left
  gateway reachable   TCP to --server
  gateway's SPIFFE ID the TLS handshake proves the expected identity
  gateway admits us   our certificate accepted (our trust domain federated there, not revoked)
  Store.Lookup        the policy allows us to look up records
  gateway readiness   /readyz on --ops (optional)

Examples:
  $ parley doctor --identity ~/.parley/trainer
  $ parley doctor --identity ~/.parley/trainer --server gw.partner.example:8443 --server-trust-domain partner.example --bundle partner.pem
  $ parley doctor --identity ~/.parley/admin --ops http://127.0.0.1:9464 --json`,
  );
  cmd.action(async (opts: DoctorOpts) => {
    const state: DoctorState = { opts, address: opts.server ?? DEFAULT_SERVER, timeoutMs: parseTimeout(opts.timeout) };
    const checks = [identityCheck(state), reachableCheck(state), serverIdCheck(state), admissionCheck(state), lookupCheck(state), readinessCheck(state)];
    try {
      parseServerAddress(state.address);
      const report = await runChecks(checks);
      process.stdout.write(opts.json === true ? `${JSON.stringify(report, null, 2)}\n` : renderReport(report));
      process.exitCode = report.exitCode;
    } catch (err) {
      reportFailure(err);
    } finally {
      await state.material?.close().catch(() => undefined);
    }
  });
}
