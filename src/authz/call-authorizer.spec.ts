import { Registry } from 'prom-client';
import { SpiffeId } from '../spiffe';
import type { PeerIdentity } from '../tls/peer-identity';
import { AuthorizedCall, CallAuthorizer } from './call-authorizer';
import { compilePolicy, type CompiledPolicy, type Rule } from './domain';
import type { AuditRecord, GrantVerifier } from './ports';

const OWN = 'example.org';
const CHECK = '/grpc.health.v1.Health/Check';
const PULL = '/parley.store.v1.StoreService/Pull';
const OTHER = '/parley.sync.v1.SyncService/RequestRegistryCredentials';
const LIST = '/parley.store.v1.StoreService/List';
const ALLOW_OWN: Rule[] = [{ id: 'own', effect: 'allow', subjects: [{ trustDomain: 'own' }], methods: ['*'] }];

function peer(id = 'spiffe://example.org/app', port = 40000): PeerIdentity {
  const spiffeId = SpiffeId.parse(id);
  return Object.freeze({ id: spiffeId, spiffeId: spiffeId.toString(), trustDomain: spiffeId.trustDomain, fingerprint256: 'AA:BB', serial: '01', notAfter: new Date(Date.now() + 3_600_000), remoteAddress: '10.1.2.3', remotePort: port });
}

/** A compiled policy whose decide() calls are counted. */
function counted(rules: Rule[]): { policy: CompiledPolicy; decisions: () => number } {
  const inner = compilePolicy(rules, { ownTrustDomain: OWN });
  let n = 0;
  const policy: CompiledPolicy = {
    ownTrustDomain: inner.ownTrustDomain,
    timeless: inner.timeless,
    decide: (r) => {
      n++;
      return inner.decide(r);
    },
  };
  return { policy, decisions: () => n };
}

function setup(o: { rules?: Rule[]; versioned?: { revocations: boolean; allowlists: boolean }; rateLimited?: () => string | undefined; handlerAudited?: string[] } = {}) {
  let current = counted(o.rules ?? ALLOW_OWN);
  const revoked = new Map<string, string>();
  const blocked = new Map<string, string>();
  const versions = { revocations: 0, allowlists: 0 };
  let revocationChecks = 0;
  let allowlistChecks = 0;
  const audit: AuditRecord[] = [];
  const metrics = new Registry();
  const versioned = o.versioned ?? { revocations: true, allowlists: true };
  const authorizer = new CallAuthorizer({
    policy: {
      get compiled() {
        return current.policy;
      },
    },
    revocations: {
      revokedReason: (p) => {
        revocationChecks++;
        return revoked.get(p.id.toString());
      },
      get version() {
        return versioned.revocations ? versions.revocations : undefined;
      },
    },
    allowlists: {
      deniedReason: (td) => {
        allowlistChecks++;
        return blocked.get(td);
      },
      get version() {
        return versioned.allowlists ? versions.allowlists : undefined;
      },
    },
    rateLimits: { limitedReason: () => o.rateLimited?.() },
    audit: { record: (e) => void audit.push(e) },
    namespacedMethods: new Set([PULL, LIST]),
    handlerAuditedMethods: new Set(o.handlerAudited ?? []),
    metrics,
  });
  return {
    authorizer,
    audit,
    metrics,
    decisions: () => current.decisions(),
    checks: () => ({ revocation: revocationChecks, allowlist: allowlistChecks }),
    revoke(id: string) {
      revoked.set(id, 'test');
      versions.revocations++;
    },
    block(td: string) {
      blocked.set(td, 'not listed');
      versions.allowlists++;
    },
    replacePolicy(rules: Rule[]) {
      current = counted(rules);
    },
  };
}

const allowed = (d: ReturnType<CallAuthorizer['authorize']>) => (d as { allowed: boolean }).allowed;

async function decisionCount(metrics: Registry, labels: Record<string, string>): Promise<number> {
  const m = (await metrics.getSingleMetric('parley_authz_decisions_total')!.get()) as { values: Array<{ labels: Record<string, string>; value: number }> };
  return m.values.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((a, v) => a + v.value, 0);
}

describe('CallAuthorizer: per-connection memo of allowed calls', () => {
  it('decides a connection’s repeated call once, and still audits and counts every call', async () => {
    const t = setup();
    const p = peer();
    for (let i = 0; i < 5; i++) expect(allowed(t.authorizer.authorize(p, CHECK))).toBe(true);
    expect(t.decisions()).toBe(1);
    expect(t.checks()).toEqual({ revocation: 1, allowlist: 1 });
    expect(t.audit).toHaveLength(5);
    expect(t.audit.every((e) => e.decision === 'allow' && e.rule === 'own' && e.spiffeId === 'spiffe://example.org/app' && e.sourceAddress === '10.1.2.3')).toBe(true);
    expect(await decisionCount(t.metrics, { method: CHECK, trust_domain: OWN, result: 'allow' })).toBe(5);
    // Another method, another connection: decided on their own.
    t.authorizer.authorize(p, OTHER);
    t.authorizer.authorize(peer('spiffe://example.org/app', 40001), CHECK);
    expect(t.decisions()).toBe(3);
  });

  it('a revocation, an allowlist change or a new policy ends the memo at once', () => {
    const t = setup();
    const p = peer();
    expect(allowed(t.authorizer.authorize(p, CHECK))).toBe(true);
    t.revoke('spiffe://example.org/app');
    expect(allowed(t.authorizer.authorize(p, CHECK))).toBe(false);
    expect(t.audit.at(-1)!.reason).toMatch(/^revoked/);

    const q = peer('spiffe://example.org/other');
    expect(allowed(t.authorizer.authorize(q, CHECK))).toBe(true);
    t.block(OWN);
    expect(allowed(t.authorizer.authorize(q, CHECK))).toBe(false);
    expect(t.audit.at(-1)!.reason).toMatch(/^source address not allowed/);

    const r = peer('spiffe://example.org/third');
    const u = setup();
    expect(allowed(u.authorizer.authorize(r, CHECK))).toBe(true);
    u.replacePolicy([]);
    expect(allowed(u.authorizer.authorize(r, CHECK))).toBe(false);
    expect(u.audit.at(-1)!.reason).toBe('no allow rule matches');
  });

  it('checks every call when a part cannot tell that it changed, or rules expire', () => {
    const p = peer();
    for (const versioned of [
      { revocations: false, allowlists: true },
      { revocations: true, allowlists: false },
    ]) {
      const unversioned = setup({ versioned });
      for (let i = 0; i < 3; i++) unversioned.authorizer.authorize(p, CHECK);
      expect(unversioned.decisions()).toBe(3);
      expect(unversioned.checks()).toEqual({ revocation: 3, allowlist: 3 });
    }

    const expiring = setup({ rules: [{ ...ALLOW_OWN[0]!, expiresAt: new Date(Date.now() + 3_600_000) }] });
    for (let i = 0; i < 3; i++) expiring.authorizer.authorize(p, CHECK);
    expect(expiring.decisions()).toBe(3);
  });

  it('applies the rate limit to every call, memo or not', () => {
    let limit: string | undefined;
    const t = setup({ rateLimited: () => limit });
    const p = peer();
    expect(allowed(t.authorizer.authorize(p, CHECK))).toBe(true);
    limit = 'over';
    const refused = t.authorizer.authorize(p, CHECK) as { allowed: boolean; refusal?: string };
    expect(refused).toMatchObject({ allowed: false, refusal: 'resource_exhausted' });
    limit = undefined;
    expect(allowed(t.authorizer.authorize(p, CHECK))).toBe(true);
    expect(t.audit.map((e) => e.decision)).toEqual(['allow', 'deny', 'allow']);
  });

  it('denied calls are never remembered; namespaced calls still wait for their namespace', () => {
    const t = setup({ rules: [{ id: 'pull-shared', effect: 'allow', subjects: [{ trustDomain: 'own' }], methods: [PULL], namespaces: ['shared'] }] });
    const p = peer();
    for (let i = 0; i < 2; i++) expect(allowed(t.authorizer.authorize(p, CHECK))).toBe(false);
    expect(t.decisions()).toBe(2);
    for (let i = 0; i < 2; i++) {
      const d = t.authorizer.authorize(p, PULL);
      expect(d.allowed).toBe(true);
      expect(() => d.context!.requireNamespace('private')).toThrow(expect.objectContaining({ code: 'permission_denied' }));
      d.context!.end();
    }
    expect(t.audit.filter((e) => e.method === PULL).map((e) => [e.decision, e.namespace])).toEqual([
      ['deny', 'private'],
      ['deny', 'private'],
    ]);
  });

  it('a connection whose SpiffeId serial shares a memo slot with another never gets its decisions', () => {
    const t = setup();
    const own = peer('spiffe://example.org/app');
    expect(allowed(t.authorizer.authorize(own, CHECK))).toBe(true);
    let stranger = peer('spiffe://partner.test/app');
    for (let i = 0; i < 1 << 20 && (stranger.id.serial - own.id.serial) % 4096 !== 0; i++) stranger = peer('spiffe://partner.test/app');
    expect((stranger.id.serial - own.id.serial) % 4096).toBe(0);
    expect(allowed(t.authorizer.authorize(stranger, CHECK))).toBe(false);
    expect(allowed(t.authorizer.authorize(own, CHECK))).toBe(true);
    expect(allowed(t.authorizer.authorize(stranger, CHECK))).toBe(false);
  });

  it('remembers at most 64 methods per connection', () => {
    const t = setup();
    const p = peer();
    for (let i = 0; i < 100; i++) t.authorizer.authorize(p, `/x.Service/M${i}`);
    const before = t.decisions();
    for (let i = 0; i < 100; i++) t.authorizer.authorize(p, `/x.Service/M${i}`);
    expect(t.decisions() - before).toBe(36);
  });
});

describe('CallAuthorizer: the context of a namespaced call', () => {
  const rules: Rule[] = [{ id: 'pull-shared', effect: 'allow', subjects: [{ trustDomain: 'own' }], methods: [PULL], namespaces: ['shared'] }];

  function decided(t: ReturnType<typeof setup>, p: PeerIdentity): AuthorizedCall {
    const d = t.authorizer.authorize(p, PULL);
    expect(d.allowed).toBe(true);
    expect(d.context).toBeInstanceOf(AuthorizedCall);
    return d.context!;
  }

  it('carries the caller it was decided for', () => {
    const t = setup({ rules });
    const p = peer();
    const call = decided(t, p);
    expect(call.peer).toBe(p);
    expect(call.method).toBe(PULL);
  });

  it('finishes the decision with the namespace, audited once however often it is asked', () => {
    const t = setup({ rules });
    const call = decided(t, peer());
    expect(() => call.requireNamespace('shared')).not.toThrow();
    expect(() => call.requireNamespace('private')).toThrow(expect.objectContaining({ code: 'permission_denied' }));
    call.end();
    expect(t.audit.filter((e) => e.method === PULL).map((e) => [e.decision, e.namespace])).toEqual([['allow', 'shared']]);
  });

  it('maySee decides without auditing', () => {
    const t = setup({ rules });
    const call = decided(t, peer());
    expect(call.maySee('shared')).toBe(true);
    expect(call.maySee('private')).toBe(false);
    expect(t.audit.filter((e) => e.method === PULL)).toEqual([]);
  });

  it('a capacity refusal is the final decision: audited as a deny, once, and counted under its result', async () => {
    const t = setup({ rules });
    const call = decided(t, peer());
    call.refuse('concurrency_limit', 'spiffe://example.org/app has 4 pulls running');
    call.refuse('concurrency_limit', 'again');
    call.end();
    expect(t.audit.filter((e) => e.method === PULL).map((e) => [e.decision, e.reason])).toEqual([['deny', 'concurrency_limit: spiffe://example.org/app has 4 pulls running']]);
    expect(await t.metrics.getSingleMetricAsString('parley_authz_decisions_total')).toContain('result="concurrency_limit"');
  });

  it("a connection's namespace decision is remembered under an unchanged policy, and never outlives it", () => {
    const t = setup({ rules });
    const p = peer();
    decided(t, p).requireNamespace('shared');
    const afterFirst = t.decisions();
    for (let i = 0; i < 3; i++) decided(t, p).requireNamespace('shared');
    expect(t.decisions()).toBe(afterFirst);
    const inFlight = decided(t, p);
    t.replacePolicy([{ id: 'pull-other', effect: 'allow', subjects: [{ trustDomain: 'own' }], methods: [PULL], namespaces: ['other'] }]);
    expect(() => inFlight.requireNamespace('shared')).toThrow(expect.objectContaining({ code: 'permission_denied' }));
  });

  it('a call that ends before its namespace is known is audited with its tentative decision', () => {
    const t = setup({ rules });
    decided(t, peer()).end();
    expect(t.audit.filter((e) => e.method === PULL).map((e) => [e.decision, e.reason.endsWith('(namespace not resolved)')])).toEqual([['allow', true]]);
  });
});

describe('CallAuthorizer: the connection memo ends with what it depends on', () => {
  it('a revocation of any ID ends the memo: the next call is checked again (and still allowed)', () => {
    const t = setup();
    const p = peer();
    t.authorizer.authorize(p, CHECK);
    t.authorizer.authorize(p, CHECK);
    expect(t.checks().revocation).toBe(1);
    t.revoke('spiffe://example.org/someone-else');
    expect(allowed(t.authorizer.authorize(p, CHECK))).toBe(true);
    expect(t.checks().revocation).toBe(2);
    expect(t.decisions()).toBe(2);
  });

  it('a revocation of the connection’s own ID refuses its next call', () => {
    const t = setup();
    const p = peer();
    expect(allowed(t.authorizer.authorize(p, CHECK))).toBe(true);
    t.revoke('spiffe://example.org/app');
    expect(allowed(t.authorizer.authorize(p, CHECK))).toBe(false);
    expect(t.audit.at(-1)).toMatchObject({ decision: 'deny', reason: 'revoked: test' });
  });

  it('an allowlist change of any trust domain ends the memo: the next call is checked again (and still allowed)', () => {
    const t = setup();
    const p = peer();
    t.authorizer.authorize(p, CHECK);
    t.authorizer.authorize(p, CHECK);
    expect(t.checks().allowlist).toBe(1);
    t.block('partner.test');
    expect(allowed(t.authorizer.authorize(p, CHECK))).toBe(true);
    expect(t.checks().allowlist).toBe(2);
  });

  it('an allowlist that no longer lists the connection’s trust domain refuses its next call', () => {
    const t = setup();
    const p = peer();
    expect(allowed(t.authorizer.authorize(p, CHECK))).toBe(true);
    t.block(OWN);
    expect(allowed(t.authorizer.authorize(p, CHECK))).toBe(false);
    expect(t.audit.at(-1)).toMatchObject({ decision: 'deny', reason: 'source address not allowed: not listed' });
  });
});

/** grpc-js Metadata as the authorizer reads it. */
const metadata = (values: string[]) => ({ get: (key: string) => (key === 'authorization' ? values : []) });

/** A verifier that accepts the token 'good' from spiffe://partner.test/parley/gateway, for namespace ml/shared and below. */
const verifier: GrantVerifier = {
  verify(token, p) {
    if (token !== 'good') throw Object.assign(new Error('bad'), { details: { reason: 'grant_bad_signature' } });
    if (p.spiffeId !== 'spiffe://partner.test/parley/gateway') throw Object.assign(new Error('bad'), { details: { reason: 'grant_wrong_subject' } });
    return { id: 'jti-1', allows: (action, ns) => action !== 'pull_referrer' && (ns === 'ml/shared' || ns.slice(0, 10) === 'ml/shared/') };
  },
};
const FEDERATED: Rule[] = [...ALLOW_OWN, { id: 'partner-pull', effect: 'allow', subjects: [{ trustDomain: 'partner.test' }], methods: [PULL] }];
const contextOf = (d: ReturnType<CallAuthorizer['authorize']>) => (d as { context?: AuthorizedCall }).context;

describe('CallAuthorizer: grants (authorization: Bearer) on store reads', () => {
  const partner = () => peer('spiffe://partner.test/parley/gateway');

  it('refuses every presented grant while no verifier is set, and anything that is not one bearer token', () => {
    const t = setup({ rules: FEDERATED });
    expect(allowed(t.authorizer.authorize(partner(), PULL, metadata(['Bearer good'])))).toBe(false);
    expect(t.audit.at(-1)).toMatchObject({ decision: 'deny', reason: 'grant refused: this gateway accepts no grants' });
    t.authorizer.useGrants(verifier);
    for (const values of [['Basic good'], ['Bearer '], ['Bearer good', 'Bearer good'], ['bearer good']]) {
      expect(allowed(t.authorizer.authorize(partner(), PULL, metadata(values)))).toBe(false);
      expect(t.audit.at(-1)).toMatchObject({ decision: 'deny', reason: 'grant refused: authorization metadata is not one bearer grant' });
    }
  });

  it('lets a grant List (no allow rule needed) and decides each namespace by the grant alone', () => {
    const t = setup({ rules: FEDERATED });
    t.authorizer.useGrants(verifier);
    expect(allowed(t.authorizer.authorize(partner(), LIST))).toBe(false);
    const call = contextOf(t.authorizer.authorize(partner(), LIST, metadata(['Bearer good'])))!;
    expect([call.maySee('ml/shared'), call.maySee('ml/shared/sub'), call.maySee('ml/sharedx'), call.maySee('ml/private')]).toEqual([true, true, false, false]);
    // Pull is allowed by a rule for every namespace without a grant; with one, only within it.
    const pull = contextOf(t.authorizer.authorize(partner(), PULL, metadata(['Bearer good'])))!;
    expect(() => pull.requireNamespace('ml/private')).toThrow(expect.objectContaining({ code: 'permission_denied' }));
    expect(t.audit.at(-1)).toMatchObject({ decision: 'deny', namespace: 'ml/private', reason: 'namespace ml/private is outside grant jti-1' });
  });

  it('audits the refusal of a grant the verifier refuses', () => {
    const t = setup({ rules: FEDERATED });
    t.authorizer.useGrants(verifier);
    expect(t.authorizer.authorize(partner(), LIST, metadata(['Bearer forged']))).toMatchObject({ allowed: false, refusal: 'unauthenticated' });
    expect(t.audit.at(-1)).toMatchObject({ decision: 'deny', reason: 'grant refused: grant_bad_signature' });
    expect(allowed(t.authorizer.authorize(peer('spiffe://partner.test/other'), LIST, metadata(['Bearer good'])))).toBe(false);
    expect(t.audit.at(-1)).toMatchObject({ decision: 'deny', reason: 'grant refused: grant_wrong_subject' });
  });

  it('lets revocations and deny rules win over a valid grant', () => {
    const t = setup({ rules: [...FEDERATED, { id: 'no-secret', effect: 'deny', subjects: [{ trustDomain: 'partner.test' }], methods: [PULL], namespaces: ['ml/shared/secret'] }] });
    t.authorizer.useGrants(verifier);
    const pull = contextOf(t.authorizer.authorize(partner(), PULL, metadata(['Bearer good'])))!;
    expect(pull.maySee('ml/shared')).toBe(true);
    expect(pull.maySee('ml/shared/secret')).toBe(false);
    t.revoke('spiffe://partner.test/parley/gateway');
    expect(allowed(t.authorizer.authorize(partner(), PULL, metadata(['Bearer good'])))).toBe(false);
    expect(t.audit.at(-1)).toMatchObject({ decision: 'deny', reason: 'revoked: test' });
  });

  it('a handler-audited method is decided at admission and audited once, by its handler', () => {
    const t = setup({ handlerAudited: [OTHER] });
    const call = contextOf(t.authorizer.authorize(peer(), OTHER))!;
    expect(t.audit).toHaveLength(0);
    call.refuse('permission_denied', 'nothing is exported to you');
    call.end();
    expect(t.audit).toEqual([expect.objectContaining({ method: OTHER, decision: 'deny', reason: 'permission_denied: nothing is exported to you' })]);
    const ok = contextOf(t.authorizer.authorize(peer(), OTHER))!;
    ok.end();
    expect(t.audit.at(-1)).toMatchObject({ decision: 'allow', reason: expect.not.stringContaining('namespace') });
  });
});
