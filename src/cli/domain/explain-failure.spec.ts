import { ALERT_MEANINGS, explainFailure, formatTimeLeft, svidValidityProblem, type FailureContext } from './explain-failure';

const CTX: FailureContext = { api: 'grpc', address: '127.0.0.1:8443', ownId: 'spiffe://acme.test/ns/ml/sa/trainer', ownTrustDomain: 'acme.test', bundleFrom: '--bundle b.pem', serverChosen: false };
const ADMIN: FailureContext = { ...CTX, api: 'admin', address: '127.0.0.1:8444' };

describe('explainFailure', () => {
  it('a server certificate that does not chain to --bundle names the bundle file and where the right one is', () => {
    const hints = explainFailure({ message: 'UNAVAILABLE: No connection established. Last error: Error: self-signed certificate in certificate chain' }, CTX);
    expect(hints[0]).toContain('does not verify with the trust bundle from --bundle b.pem');
    expect(hints[1]).toContain('bundle.pem');
    expect(explainFailure({ message: 'admin api: 127.0.0.1:8444: self-signed certificate in certificate chain' }, ADMIN)[0]).toContain('--bundle b.pem');
  });

  it("a partner's gateway without --server-trust-domain suggests the flag with the partner's trust domain", () => {
    const message = 'server identity spiffe://partner.test/parley/gateway cannot be verified (unknown_trust_domain): no bundle for partner.test';
    const hints = explainFailure({ code: 'UNAVAILABLE', message }, CTX);
    expect(hints[0]).toContain('belongs to trust domain partner.test');
    expect(hints[1]).toContain('--server-trust-domain partner.test');
  });

  it('each TLS alert of the gateway is shown with its meaning; unknown_ca says how to federate', () => {
    for (const alert of Object.keys(ALERT_MEANINGS) as Array<keyof typeof ALERT_MEANINGS>) {
      const hints = explainFailure({ code: 'UNAUTHENTICATED', message: `UNAUTHENTICATED: client certificate refused: ${alert}` }, CTX);
      expect(hints[0]).toBe(`TLS alert ${alert}: ${ALERT_MEANINGS[alert]}`);
    }
    expect(explainFailure({ message: 'client certificate refused: unknown_ca' }, CTX)[1]).toContain('parley admin federation add acme.test');
  });

  it('a connection dropped mid-call (the gateway went away) says to run the command again, not that we were refused', () => {
    const hints = explainFailure({ code: 'UNAVAILABLE', message: 'UNAVAILABLE: Connection dropped' }, CTX);
    expect(hints.join('\n')).toMatch(/dropped during the call.*run the same command again/);
    expect(hints.join('\n')).not.toMatch(/refused/);
  });

  it('a reset on a gRPC call that had its connection (kill -9 of the gateway mid-push) is a drop; a reset before connecting is a refusal', () => {
    const midCall = explainFailure({ code: 'UNAVAILABLE', message: 'UNAVAILABLE: read ECONNRESET' }, CTX).join('\n');
    expect(midCall).toMatch(/dropped during the call.*run the same command again/);
    expect(midCall).not.toMatch(/refused/);
    const refused = explainFailure({ code: 'UNAVAILABLE', message: 'UNAVAILABLE: No connection established. Last error: read ECONNRESET (2026-12-04T06:00:00.000Z)' }, CTX).join('\n');
    expect(refused).toMatch(/refused our certificate.*not \(or no longer\) federated/s);
  });

  it('a reset connection (removed federation, revocation) names the likely causes, not just ECONNRESET', () => {
    const hints = explainFailure({ message: 'admin api: 127.0.0.1:8444: read ECONNRESET' }, ADMIN);
    expect(hints.join('\n')).toMatch(/not \(or no longer\) federated.*revoked/s);
  });

  it('a refused TCP connection says which port is expected', () => {
    expect(explainFailure({ message: 'connect ECONNREFUSED 127.0.0.1:8444' }, ADMIN)[0]).toContain('admin API (default port 8444)');
  });

  it('a 403 of the admin API says our SPIFFE ID is not an administrator of this gateway', () => {
    const hints = explainFailure({ code: 'permission_denied', message: 'admin api: Permission denied: permission denied' }, ADMIN);
    expect(hints[0]).toBe('the gateway refused spiffe://acme.test/ns/ml/sa/trainer: it is not an administrator of this gateway (admin.admins, admin.roles), or it was revoked there');
  });

  it('a 403 naming the lacking permission says which roles we hold and that another role is needed', () => {
    const hints = explainFailure({ code: 'permission_denied', message: 'admin api: Permission denied: spiffe://acme.test/ns/ml/sa/trainer lacks policies:write (holds role viewer)' }, ADMIN);
    expect(hints[0]).toBe('spiffe://acme.test/ns/ml/sa/trainer is an administrator with role viewer, which does not grant policies:write');
    expect(hints[1]).toContain('admin.roles');
  });

  it('a gRPC PERMISSION_DENIED points at policy explain; unrelated failures get no hint', () => {
    expect(explainFailure({ code: 'PERMISSION_DENIED', message: 'PERMISSION_DENIED: permission denied' }, CTX)[0]).toContain('parley admin policy explain --spiffe-id spiffe://acme.test/ns/ml/sa/trainer');
    expect(explainFailure({ code: 'NOT_FOUND', message: 'NOT_FOUND: record bafk does not exist' }, CTX)).toEqual([]);
  });
});

describe('svidValidityProblem', () => {
  const v = { id: 'spiffe://acme.test/a', notBefore: new Date('2026-01-01T10:00:00Z'), notAfter: new Date('2026-01-01T11:00:00Z'), from: '--identity d' };
  it('expired: says when and how to get a new one', () => {
    expect(svidValidityProblem(v, new Date('2026-01-01T11:00:01Z'))).toBe('our SVID spiffe://acme.test/a (--identity d) expired at 2026-01-01T11:00:00.000Z; issue a new one (parley dev issue --id spiffe://acme.test/a --out DIR, or from your SPIRE server)');
  });
  it('not yet valid: the clock; valid: nothing (inclusive at notAfter)', () => {
    expect(svidValidityProblem(v, new Date('2026-01-01T09:59:59Z'))).toContain('not valid before');
    expect(svidValidityProblem(v, new Date('2026-01-01T11:00:00Z'))).toBeUndefined();
  });
  it('from the Workload API: the agent is to blame', () => {
    expect(svidValidityProblem({ ...v, from: 'SPIFFE_ENDPOINT_SOCKET=unix:///s' }, new Date('2026-02-01'))).toContain('check the agent');
  });
});

describe('formatTimeLeft', () => {
  it.each([
    [0, '0s'],
    [59_000, '59s'],
    [3_552_000, '59m 12s'],
    [7_500_000, '2h 5m'],
    [273_600_000, '3d 4h'],
    [-5, '0s'],
  ])('%d ms -> %s', (ms, text) => expect(formatTimeLeft(ms)).toBe(text));
});
