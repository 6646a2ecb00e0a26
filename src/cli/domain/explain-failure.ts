/**
 * Turns what a client sees when a call to a gateway fails (a gRPC status, a TLS or socket
 * error, an admin API refusal) into the likely cause and the flag or command that fixes it.
 * Pure: the caller passes the failure text and what it knows of its own identity; the hints
 * carry only identifiers the user already has (file names, SPIFFE IDs, trust domains).
 */

export interface FailureContext {
  /** Which API was called. */
  api: 'grpc' | 'admin';
  /** host:port that was dialed. */
  address: string;
  /** Our SPIFFE ID. */
  ownId: string;
  /** Our trust domain. */
  ownTrustDomain: string;
  /** Where the server's trust bundle came from ("--bundle FILE", "the Workload API"). */
  bundleFrom: string;
  /** Whether the user chose which server to accept (--server-id / --server-trust-domain). */
  serverChosen: boolean;
}

export interface Failure {
  /** gRPC status name (UNAVAILABLE) or ParleyError code (permission_denied), if any. */
  code?: string;
  message: string;
}

/** The meaning of each TLS alert a Parley gateway sends when it refuses a client certificate. */
export const ALERT_MEANINGS = {
  certificate_required: 'the gateway received no client certificate',
  unknown_ca: 'the gateway holds no trust bundle that verifies our certificate: our trust domain is not federated there (never added, removed, or its bundle not fetched yet)',
  certificate_expired: 'the gateway found our certificate expired or not yet valid (check the SVID and the clocks)',
  bad_certificate: 'the gateway found our certificate is not a valid X509-SVID',
} as const;

export type KnownAlert = keyof typeof ALERT_MEANINGS;

const SPIFFE_ID = /spiffe:\/\/([a-z0-9._-]+)(\/[^\s),;]*)?/i;

function federationFix(ctx: FailureContext): string {
  return `ask the gateway's operator to federate with ${ctx.ownTrustDomain} (parley admin federation add ${ctx.ownTrustDomain} --profile https_spiffe --url <our bundle endpoint> ...), then retry`;
}

function alertHints(alert: KnownAlert, ctx: FailureContext): string[] {
  const meaning = `TLS alert ${alert}: ${ALERT_MEANINGS[alert]}`;
  switch (alert) {
    case 'unknown_ca':
      return [meaning, federationFix(ctx)];
    case 'certificate_expired':
      return [meaning, `issue a new SVID for ${ctx.ownId} (parley dev issue --id ${ctx.ownId} --out DIR) or check this machine's clock`];
    case 'certificate_required':
      return [meaning, 'give an identity: --identity DIR, or --svid/--key/--bundle, or --workload-api'];
    case 'bad_certificate':
      return [meaning, 'use an SVID issued by your SPIRE server or `parley dev issue`'];
  }
}

function serverNotTrusted(ctx: FailureContext): string[] {
  return [
    `the gateway's certificate does not verify with the trust bundle from ${ctx.bundleFrom}: the bundle is of another trust domain, or of an older CA`,
    ctx.api === 'admin' || !ctx.serverChosen
      ? `use the bundle of the gateway's own trust domain (the bundle.pem that \`parley dev issue\` wrote next to the SVID, or \`parley admin bundle export\` on that gateway)`
      : `for a partner's gateway, give --bundle with that partner's trust bundle`,
  ];
}

function otherTrustDomain(message: string, ctx: FailureContext): string[] {
  const td = SPIFFE_ID.exec(message)?.[1];
  const them = td !== undefined && td !== ctx.ownTrustDomain ? td : undefined;
  if (them === undefined) return serverNotTrusted(ctx);
  return [
    `the gateway at ${ctx.address} belongs to trust domain ${them}, not ours (${ctx.ownTrustDomain})`,
    `to call a partner's gateway add --server-trust-domain ${them} (or --server-id <its SPIFFE ID>) and --bundle with ${them}'s trust bundle`,
  ];
}

function unexpectedServer(message: string, ctx: FailureContext): string[] {
  const id = SPIFFE_ID.exec(message)?.[0];
  return [
    `the gateway at ${ctx.address} proved it is ${id ?? 'another workload'}, which is not the server we were told to accept`,
    `if that is the right gateway, give --server-id ${id ?? '<its SPIFFE ID>'}; otherwise check --server`,
  ];
}

function reset(ctx: FailureContext): string[] {
  const hints = [`the gateway at ${ctx.address} closed the connection during or right after the TLS handshake: it refused our certificate`];
  hints.push(`likely causes: our trust domain ${ctx.ownTrustDomain} is not (or no longer) federated there, our SPIFFE ID ${ctx.ownId} is revoked there, or our address is not in its allowlist`);
  hints.push(`${federationFix(ctx)}; the gateway's log says which`);
  return hints;
}

function dropped(ctx: FailureContext): string[] {
  return [`the connection to the gateway at ${ctx.address} dropped during the call (the gateway stopped or restarted, or the network failed); run the same command again (an interrupted pull resumes)`];
}

function unreachable(ctx: FailureContext): string[] {
  const port = ctx.api === 'admin' ? 'admin API (default port 8444)' : 'gRPC port (default 8443)';
  return [`nothing answers at ${ctx.address}: is the gateway running, and is that its ${port}? (--server HOST:PORT)`];
}

function adminRefusal(m: string, ctx: FailureContext): string[] {
  const lacking = / lacks ([a-z]+:[a-z]+) \(holds (roles? [a-z, ]+)\)/.exec(m);
  if (lacking !== null) {
    return [
      `${ctx.ownId} is an administrator with ${lacking[2]}, which does not grant ${lacking[1]}`,
      `ask the gateway's operator for a role that grants it (admin.roles: viewer reads; operator, security and admin also write), or use another identity`,
    ];
  }
  return [
    `the gateway refused ${ctx.ownId}: it is not an administrator of this gateway (admin.admins, admin.roles), or it was revoked there`,
    `use an administrator's identity; on a development gateway: parley dev issue --id spiffe://${ctx.ownTrustDomain}/parley/admin --out DIR`,
  ];
}

/**
 * Hints for a failure, most likely cause first; empty when nothing more can be said than the
 * message itself.
 */
export function explainFailure(f: Failure, ctx: FailureContext): string[] {
  const m = f.message;
  const alert = /certificate refused: ([a-z_]+)/.exec(m)?.[1];
  if (alert !== undefined && Object.hasOwn(ALERT_MEANINGS, alert)) return alertHints(alert as KnownAlert, ctx);
  if (/\(unknown_trust_domain\)/.test(m)) return otherTrustDomain(m, ctx);
  if (/is not the expected/.test(m)) return unexpectedServer(m, ctx);
  if (/self[- ]signed certificate|unable to (get local issuer|verify the first) certificate|\(chain_unverified\)|certificate signature failure/i.test(m)) return serverNotTrusted(ctx);
  if (/ECONNREFUSED|connect ENOENT/.test(m)) return unreachable(ctx);
  // grpc-js says "Connection dropped" of a connection that was up: the gateway went away mid-call, it did not refuse us.
  if (/Connection dropped/i.test(m)) return dropped(ctx);
  // grpc-js starts a call only on a connection whose server sent its HTTP/2 SETTINGS, which a
  // Parley gateway does only after admitting our certificate: a reset on a gRPC call that is not
  // a failure to connect ("No connection established") is the gateway going away mid-call.
  if (ctx.api === 'grpc' && !/No connection established/i.test(m) && /ECONNRESET|EPIPE|Connection closed|unexpected eof/i.test(m)) return dropped(ctx);
  if (/ECONNRESET|EPIPE|socket hang up|No connection established|Connection closed|unexpected eof/i.test(m)) return reset(ctx);
  if (ctx.api === 'admin' && (f.code === 'permission_denied' || /^admin api: Permission denied/i.test(m))) return adminRefusal(m, ctx);
  if (ctx.api === 'grpc' && f.code === 'PERMISSION_DENIED') {
    return [`the gateway's policy does not allow ${ctx.ownId} this call; an operator can see why with: parley admin policy explain --spiffe-id ${ctx.ownId} --method <method>`];
  }
  return [];
}

/** Our SVID's validity at `now`: undefined when usable, else a sentence saying what to do. */
export function svidValidityProblem(v: { id: string; notBefore: Date; notAfter: Date; from: string }, now: Date): string | undefined {
  const renew = v.from.startsWith('SPIFFE_ENDPOINT_SOCKET') || v.from.startsWith('--workload-api') ? 'the Workload API handed out an expired SVID: check the agent' : `issue a new one (parley dev issue --id ${v.id} --out DIR, or from your SPIRE server)`;
  if (now.getTime() > v.notAfter.getTime()) {
    return `our SVID ${v.id} (${v.from}) expired at ${v.notAfter.toISOString()}; ${renew}`;
  }
  if (now.getTime() < v.notBefore.getTime()) {
    return `our SVID ${v.id} (${v.from}) is not valid before ${v.notBefore.toISOString()}: check this machine's clock`;
  }
  return undefined;
}

/** "59m 12s" / "2h 5m" / "3d 4h": time left, for people. */
export function formatTimeLeft(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const d = Math.floor(s / 86_400);
  const h = Math.floor((s % 86_400) / 3600);
  const min = Math.floor((s % 3600) / 60);
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${min}m`;
  if (min > 0) return `${min}m ${s % 60}s`;
  return `${s}s`;
}
