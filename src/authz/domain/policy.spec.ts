import { ParleyError } from '../../common/errors';
import { SpiffeId } from '../../spiffe';
import { MethodRegistry } from './methods';
import { compilePolicy, defaultPolicy, REASONS } from './policy';
import type { Decision, Rule } from './rule';
import { CHECK, METHODS, OWN, STORE, STORE_METHODS, SYNC } from '../../../test/support/policy-fixtures';
import { validateRules } from './validate';

const registry = new MethodRegistry(METHODS);
const id = (s: string): SpiffeId => SpiffeId.parse(s);

// Callers: own, federated, unfederated, and lookalikes of the own trust domain.
const CALLERS = ['example.org', 'partner.test', 'unknown.test', 'example.org.evil.com', 'notexample.org', 'example-org'];
const READ_ONLY = new Set([STORE + 'Pull', STORE + 'Lookup', STORE + 'PullReferrer', SYNC]);

function expected(caller: string, allowed: (m: string) => boolean): [string, string, boolean][] {
  return METHODS.map((m) => [caller, m, allowed(m)]);
}

describe('default policy', () => {
  const policy = compilePolicy(defaultPolicy(OWN), { ownTrustDomain: OWN, federatedTrustDomains: ['partner.test'] });

  it('is valid against the served methods', () => {
    expect(validateRules(defaultPolicy(OWN), registry)).toEqual([]);
    expect(registry.unreachable(defaultPolicy(OWN), OWN)).toEqual([]);
  });

  const table = [
    ...expected('example.org', () => true),
    ...expected('partner.test', (m) => READ_ONLY.has(m)),
    ...CALLERS.slice(2).flatMap((c) => expected(c, () => false)),
  ];
  it.each(table)('%s %s → %s', (td, method, allowed) => {
    const d = policy.decide({ id: id(`spiffe://${td}/workload`), method });
    expect(d.allowed).toBe(allowed);
    expect(d.rule).toBe(allowed ? (td === OWN ? 'default-own' : 'default-federated') : undefined);
  });

  it('without a federation list, "federated" means every other trust domain', () => {
    const open = compilePolicy(defaultPolicy(OWN), { ownTrustDomain: OWN });
    for (const td of CALLERS.slice(1)) {
      for (const m of METHODS) expect(open.decide({ id: id(`spiffe://${td}/w`), method: m }).allowed).toBe(READ_ONLY.has(m));
    }
  });
});

describe('custom policy', () => {
  const rules: Rule[] = [
    { id: 'own-pull', effect: 'allow', subjects: [{ trustDomain: 'example.org' }], methods: [STORE + 'Pull', CHECK] },
    { id: 'partner-store', effect: 'allow', subjects: [{ trustDomain: 'partner.test' }], methods: [STORE + '*'] },
    { id: 'partner-no-delete', effect: 'deny', subjects: [{ trustDomain: 'partner.test' }], methods: [STORE + 'Delete', STORE + 'DeleteReferrer'] },
  ];
  const policy = compilePolicy(rules, { ownTrustDomain: OWN });

  const table = [
    ...expected('example.org', (m) => m === STORE + 'Pull' || m === CHECK),
    ...expected('partner.test', (m) => STORE_METHODS.includes(m) && m !== STORE + 'Delete' && m !== STORE + 'DeleteReferrer'),
    ...CALLERS.slice(2).flatMap((c) => expected(c, () => false)),
  ];
  it.each(table)('%s %s → %s', (td, method, allowed) => {
    expect(policy.decide({ id: id(`spiffe://${td}/workload`), method }).allowed).toBe(allowed);
  });

  it('a rule for Pull does not grant PullReferrer', () => {
    const d = policy.decide({ id: id('spiffe://example.org/a'), method: STORE + 'PullReferrer' });
    expect(d).toEqual({ allowed: false, reason: REASONS.noAllow });
  });

  it('deny overrides allow and names the deny rule', () => {
    expect(policy.decide({ id: id('spiffe://partner.test/a'), method: STORE + 'Delete' })).toEqual({
      allowed: false,
      rule: 'partner-no-delete',
      reason: 'denied by rule "partner-no-delete"',
    });
  });

  it('reports unreachable served methods', () => {
    expect(registry.unreachable(rules, OWN)).toEqual([SYNC]);
    const blanket: Rule[] = [...rules, { id: 'lockdown', effect: 'deny', subjects: [{ trustDomain: 'any' }], methods: [CHECK] }];
    expect(registry.unreachable(blanket, OWN)).toEqual([CHECK, SYNC]);
    const scoped: Rule[] = [...rules, { id: 'x', effect: 'deny', subjects: [{ trustDomain: 'any' }], methods: [CHECK], namespaces: ['a'] }];
    expect(registry.unreachable(scoped, OWN)).toEqual([SYNC]);
    const expired: Rule[] = [{ id: 'e', effect: 'allow', subjects: [{ trustDomain: 'any' }], methods: ['*'], expiresAt: new Date(0) }];
    expect(registry.unreachable(expired, OWN)).toEqual(registry.methods());
  });

  it('fails closed on malformed requests', () => {
    const ok = { id: id('spiffe://example.org/a'), method: STORE + 'Pull' };
    expect(policy.decide({ ...ok, method: '*' }).reason).toBe(REASONS.malformedMethod);
    expect(policy.decide({ ...ok, method: STORE + '*' }).reason).toBe(REASONS.malformedMethod);
    expect(policy.decide({ ...ok, namespace: 'a//b' }).reason).toBe(REASONS.malformedNamespace);
    expect(policy.decide({ ...ok, sourceIp: '10.0.0.256' }).reason).toBe(REASONS.malformedSourceIp);
    expect(policy.decide({ ...ok, now: new Date(NaN) }).reason).toBe(REASONS.invalidTime);
    expect(policy.decide(ok).allowed).toBe(true);
  });
});

describe('rule conditions', () => {
  const now = new Date('2030-01-01T00:00:00Z');
  const base = { id: id('spiffe://example.org/ns/ml/trainer'), method: STORE + 'Pull', now };

  it('ignores expired rules (expiresAt is exclusive)', () => {
    const policy = compilePolicy(
      [
        { id: 'tmp', effect: 'allow', subjects: [{ trustDomain: 'own' }], methods: ['*'], expiresAt: now },
        { id: 'tmp-deny', effect: 'deny', subjects: [{ trustDomain: 'own' }], methods: ['*'], expiresAt: new Date(now.getTime() + 1) },
      ],
      { ownTrustDomain: OWN },
    );
    expect(policy.decide({ ...base, now: new Date(now.getTime() - 1) }).rule).toBe('tmp-deny');
    expect(policy.decide(base)).toEqual({ allowed: false, rule: 'tmp-deny', reason: 'denied by rule "tmp-deny"' });
    expect(policy.decide({ ...base, now: new Date(now.getTime() + 1) })).toEqual({ allowed: false, reason: REASONS.noAllow });
  });

  it('dry-run denies do not deny but are reported', () => {
    const policy = compilePolicy(
      [
        { id: 'all', effect: 'allow', subjects: [{ trustDomain: 'any' }], methods: ['*'] },
        { id: 'dry-2', effect: 'deny', subjects: [{ spiffeId: 'spiffe://example.org/ns/ml/trainer' }], methods: [STORE + '*'], dryRun: true },
        { id: 'dry-1', effect: 'deny', subjects: [{ trustDomain: 'own' }], methods: ['*'], dryRun: true },
        { id: 'dry-miss', effect: 'deny', subjects: [{ trustDomain: 'partner.test' }], methods: ['*'], dryRun: true },
      ],
      { ownTrustDomain: OWN },
    );
    expect(policy.decide(base)).toEqual({ allowed: true, rule: 'all', reason: 'allowed by rule "all"', dryRunDenied: ['dry-2', 'dry-1'] });
    expect(policy.decide({ ...base, method: CHECK }).dryRunDenied).toEqual(['dry-1']);
  });

  it('matches source CIDRs for IPv4 and IPv6, allow and deny', () => {
    const policy = compilePolicy(
      [
        { id: 'lan', effect: 'allow', subjects: [{ trustDomain: 'own' }], methods: ['*'], sourceCidrs: ['10.0.0.0/8', '2001:db8::/32'] },
        { id: 'quarantine', effect: 'deny', subjects: [{ trustDomain: 'any' }], methods: ['*'], sourceCidrs: ['10.66.0.0/16', '2001:db8:66::/48'] },
      ],
      { ownTrustDomain: OWN },
    );
    const at = (sourceIp?: string): Decision => policy.decide({ ...base, ...(sourceIp === undefined ? {} : { sourceIp }) });
    expect(at('10.1.2.3').rule).toBe('lan');
    expect(at('10.1.2.3').allowed).toBe(true);
    expect(at('::ffff:10.1.2.3').allowed).toBe(true);
    expect(at('2001:db8:1::5').allowed).toBe(true);
    expect(at('192.168.0.1').allowed).toBe(false);
    expect(at('2001:db9::1').allowed).toBe(false);
    expect(at('10.66.0.9')).toEqual({ allowed: false, rule: 'quarantine', reason: 'denied by rule "quarantine"' });
    expect(at('2001:db8:66::9').rule).toBe('quarantine');
    expect(at(undefined).allowed).toBe(false); // a CIDR-scoped rule needs a source address
  });

  it('matches SPIFFE ID prefixes on / boundaries within one trust domain', () => {
    const policy = compilePolicy([{ id: 'ml', effect: 'allow', subjects: [{ spiffeIdPrefix: 'spiffe://example.org/ns/ml' }], methods: ['*'] }], {
      ownTrustDomain: OWN,
    });
    const allowed = (s: string): boolean => policy.decide({ ...base, id: id(s) }).allowed;
    expect(allowed('spiffe://example.org/ns/ml')).toBe(true);
    expect(allowed('spiffe://example.org/ns/ml/x')).toBe(true);
    expect(allowed('spiffe://example.org/ns/ml/x/y')).toBe(true);
    expect(allowed('spiffe://example.org/ns/mlx')).toBe(false);
    expect(allowed('spiffe://example.org/ns')).toBe(false);
    expect(allowed('spiffe://example.org')).toBe(false);
    expect(allowed('spiffe://partner.test/ns/ml')).toBe(false);
    const whole = compilePolicy([{ id: 'td', effect: 'allow', subjects: [{ spiffeIdPrefix: 'spiffe://partner.test' }], methods: ['*'] }], { ownTrustDomain: OWN });
    expect(whole.decide({ ...base, id: id('spiffe://partner.test/a/b') }).allowed).toBe(true);
    expect(whole.decide({ ...base, id: id('spiffe://partner.test.evil/a') }).allowed).toBe(false);
  });

  it('matches namespaces on / boundaries; namespace-less requests only match unscoped rules', () => {
    const policy = compilePolicy([{ id: 'ns', effect: 'allow', subjects: [{ trustDomain: 'own' }], methods: ['*'], namespaces: ['team/ml', 'ops'] }], {
      ownTrustDomain: OWN,
    });
    const allowed = (namespace?: string): boolean => policy.decide({ ...base, ...(namespace === undefined ? {} : { namespace }) }).allowed;
    expect(allowed('team/ml')).toBe(true);
    expect(allowed('team/ml/a')).toBe(true);
    expect(allowed('ops')).toBe(true);
    expect(allowed('team/mlx')).toBe(false);
    expect(allowed('team')).toBe(false);
    expect(allowed(undefined)).toBe(false);
  });

  it('with the namespace pending, scoped allows admit tentatively and scoped denies wait for the namespace', () => {
    const policy = compilePolicy(
      [
        { id: 'deny-secret', effect: 'deny', subjects: [{ trustDomain: 'own' }], methods: ['*'], namespaces: ['secret'] },
        { id: 'ml', effect: 'allow', subjects: [{ trustDomain: 'own' }], methods: ['*'], namespaces: ['team/ml'] },
      ],
      { ownTrustDomain: OWN },
    );
    expect(policy.decide({ ...base, namespacePending: true })).toMatchObject({ allowed: true, rule: 'ml' });
    expect(policy.decide({ ...base })).toMatchObject({ allowed: false, reason: REASONS.noAllow });
    expect(policy.decide({ ...base, namespacePending: true, namespace: 'secret' })).toMatchObject({ allowed: false, rule: 'deny-secret' });
    expect(policy.decide({ ...base, namespacePending: true, namespace: 'team/other' })).toMatchObject({ allowed: false });
    const noScoped = compilePolicy([{ id: 'pull', effect: 'allow', subjects: [{ trustDomain: 'own' }], methods: [CHECK] }], { ownTrustDomain: OWN });
    expect(noScoped.decide({ ...base, namespacePending: true }).allowed).toBe(false);
  });
});

describe('decision cache', () => {
  const rules: Rule[] = [
    { id: 'own', effect: 'allow', subjects: [{ trustDomain: 'own' }], methods: ['*'] },
    { id: 'office', effect: 'allow', subjects: [{ trustDomain: 'partner.test' }], methods: [STORE + 'Pull'], sourceCidrs: ['10.0.0.0/8'] },
  ];

  it('a SpiffeId object whose serial shares a slot with an earlier one gets its own decision', () => {
    const policy = compilePolicy(rules, { ownTrustDomain: OWN });
    const own = id('spiffe://example.org/a');
    expect(policy.decide({ id: own, method: CHECK }).allowed).toBe(true);
    // Parse until an object lands in the same slot (serials are consecutive; slots are a power of two).
    let other = id('spiffe://partner.test/b');
    for (let i = 0; i < 1 << 20 && (other.serial - own.serial) % 4096 !== 0; i++) other = id('spiffe://partner.test/b');
    expect((other.serial - own.serial) % 4096).toBe(0);
    expect(policy.decide({ id: other, method: CHECK })).toEqual({ allowed: false, reason: REASONS.noAllow });
    expect(policy.decide({ id: own, method: CHECK }).allowed).toBe(true);
    expect(policy.decide({ id: other, method: CHECK }).allowed).toBe(false);
  });

  it('one SpiffeId object seen from two source addresses gets the decision of each', () => {
    const policy = compilePolicy(rules, { ownTrustDomain: OWN });
    const peer = id('spiffe://partner.test/b');
    for (let round = 0; round < 2; round++) {
      expect(policy.decide({ id: peer, method: STORE + 'Pull', sourceIp: '10.1.2.3' }).allowed).toBe(true);
      expect(policy.decide({ id: peer, method: STORE + 'Pull', sourceIp: '192.168.1.1' }).allowed).toBe(false);
      expect(policy.decide({ id: peer, method: STORE + 'Pull' }).allowed).toBe(false);
      expect(policy.decide({ id: peer, method: STORE + 'Pull', sourceIp: '' }).reason).toBe(REASONS.malformedSourceIp);
    }
  });

  it('equal IDs in different objects get the same decisions; malformed methods are never cached', () => {
    const policy = compilePolicy(rules, { ownTrustDomain: OWN });
    const a = id('spiffe://example.org/a');
    const b = id('spiffe://example.org/a');
    expect(a.serial).not.toBe(b.serial);
    expect(policy.decide({ id: a, method: CHECK })).toBe(policy.decide({ id: b, method: CHECK }));
    for (const method of ['toString', '__proto__', 'constructor', '', '/x']) {
      expect(policy.decide({ id: a, method }).reason).toBe(REASONS.malformedMethod);
      expect(policy.decide({ id: a, method }).reason).toBe(REASONS.malformedMethod);
    }
  });
});

describe('validation', () => {
  it('reports field-level errors', () => {
    const rules = [
      { id: 'a', effect: 'allow', subjects: [{ trustDomain: 'Example.org' }, { spiffeId: 'spiffe://example.org/' }], methods: [STORE + 'Pul', '/nope.Service/*'] },
      { id: 'a', effect: 'deny', subjects: [], methods: [], sourceCidrs: ['10.0.0.1/8', 'fe80::/129', '::1'] },
      { id: 'c', effect: 'allow', subjects: [{ spiffeIdPrefix: 'http://x' }, { trustDomain: 'spiffe://example.org' }, { trustDomain: 'a', spiffeId: 'b' }], methods: ['/a/b/c'], dryRun: true, namespaces: ['a//b'], expiresAt: new Date(NaN), extra: 1 },
      { id: '', effect: 'maybe', subjects: [{ trustDomain: 'own' }], methods: ['*'] },
    ] as unknown as Rule[];
    const errors = validateRules(rules, registry);
    const fields = errors.map((e) => e.field).sort();
    expect(fields).toEqual(
      [
        'rules[0].subjects[0].trustDomain',
        'rules[0].subjects[1].spiffeId',
        'rules[0].methods[0]',
        'rules[0].methods[1]',
        'rules[1].id',
        'rules[1].subjects',
        'rules[1].methods',
        'rules[1].sourceCidrs[0]',
        'rules[1].sourceCidrs[1]',
        'rules[2].extra',
        'rules[2].subjects[0].spiffeIdPrefix',
        'rules[2].subjects[1].trustDomain',
        'rules[2].subjects[2]',
        'rules[2].methods[0]',
        'rules[2].namespaces[0]',
        'rules[2].expiresAt',
        'rules[2].dryRun',
        'rules[3].id',
        'rules[3].effect',
      ].sort(),
    );
    const msg = (f: string): string => errors.find((e) => e.field === f)!.message;
    expect(msg('rules[0].methods[0]')).toBe('unknown method (not served)');
    expect(msg('rules[0].methods[1]')).toBe('unknown service (not served)');
    expect(msg('rules[1].id')).toBe('duplicate rule id (first used by rules[0])');
    expect(msg('rules[1].subjects')).toBe('must not be empty');
    expect(msg('rules[1].sourceCidrs[0]')).toBe('bad CIDR: address has bits set beyond the prefix length');
    expect(msg('rules[2].subjects[1].trustDomain')).toBe('must be a bare trust domain name, not a SPIFFE ID');
  });

  it('compilePolicy refuses structurally invalid rules', () => {
    const bad = [{ id: 'x', effect: 'allow', subjects: [], methods: ['*'] }] as Rule[];
    expect(() => compilePolicy(bad, { ownTrustDomain: OWN })).toThrow(ParleyError);
    expect(() => compilePolicy(bad, { ownTrustDomain: OWN })).toThrow('rules[0].subjects: must not be empty');
    expect(() => compilePolicy([], { ownTrustDomain: 'Bad..td' })).toThrow(ParleyError);
    expect(() => new MethodRegistry(['/a/*'])).toThrow(ParleyError);
  });
});

// ---- Property: the index equals a naive scan of all rules built from the SPIFFE authorizers.

describe('the fast path of a policy with an expiring rule', () => {
  const caller = id('spiffe://partner.test/ns/ml/puller');
  const PULL = STORE + 'Pull';
  const start = Date.UTC(2026, 0, 1, 12, 0, 0);
  const expiresAt = new Date(start + 60_000);
  const rules: Rule[] = [{ id: 'until-noon', effect: 'allow', subjects: [{ trustDomain: 'partner.test' }], methods: [PULL], expiresAt }];

  beforeEach(() => jest.useFakeTimers({ now: start }));
  afterEach(() => jest.useRealTimers());

  it('allows a repeated call (same SpiffeId object, no clock given) until the rule expires, then denies it', () => {
    const policy = compilePolicy(rules, { ownTrustDomain: OWN, federatedTrustDomains: ['partner.test'] });
    expect(policy.timeless).toBe(false);
    for (let i = 0; i < 3; i++) expect(policy.decide({ id: caller, method: PULL, sourceIp: '192.0.2.7' })).toMatchObject({ allowed: true, rule: 'until-noon' });
    jest.setSystemTime(expiresAt.getTime() - 1);
    expect(policy.decide({ id: caller, method: PULL, sourceIp: '192.0.2.7' }).allowed).toBe(true);
    jest.setSystemTime(expiresAt.getTime());
    expect(policy.decide({ id: caller, method: PULL, sourceIp: '192.0.2.7' }).allowed).toBe(false);
    expect(policy.decide({ id: caller, method: PULL, sourceIp: '192.0.2.7' }).allowed).toBe(false);
  });

  it('answers a request for an instant outside the cached window from that instant, not from the cache', () => {
    const policy = compilePolicy(rules, { ownTrustDomain: OWN, federatedTrustDomains: ['partner.test'] });
    expect(policy.decide({ id: caller, method: PULL }).allowed).toBe(true);
    expect(policy.decide({ id: caller, method: PULL, now: new Date(expiresAt.getTime() + 1) }).allowed).toBe(false);
    expect(policy.decide({ id: caller, method: PULL }).allowed).toBe(true);
    jest.setSystemTime(expiresAt.getTime() + 5_000);
    expect(policy.decide({ id: caller, method: PULL }).allowed).toBe(false);
    // Going back in time (a clock step) is answered for that time too.
    jest.setSystemTime(start);
    expect(policy.decide({ id: caller, method: PULL }).allowed).toBe(true);
  });
});
