import { MethodRegistry, type FieldError, type Rule } from './domain';
import { loadPolicy } from './policy-load';
import { configRuleProblems, ruleFromJson, rulesFromJson, ruleToJson, splitRuleField } from './policy-json';
import type { PolicyRow } from './policy-rows';
import { SpiffeId } from '../spiffe';

const PULL = '/parley.store.v1.StoreService/Pull';
const registry = new MethodRegistry([PULL, '/grpc.health.v1.Health/Check']);

describe('rule JSON', () => {
  const rule: Rule = {
    id: 'r',
    effect: 'deny',
    subjects: [{ trustDomain: 'own' }, { spiffeIdPrefix: 'spiffe://p.test/ns' }],
    methods: [PULL],
    namespaces: ['a/b'],
    sourceCidrs: ['10.0.0.0/8'],
    expiresAt: new Date('2030-01-31T12:00:00Z'),
    description: 'd',
    dryRun: true,
  };

  it('round-trips, expiresAt as RFC 3339', () => {
    const json = ruleToJson(rule);
    expect(json.expiresAt).toBe('2030-01-31T12:00:00.000Z');
    const errors: FieldError[] = [];
    expect(ruleFromJson(JSON.parse(JSON.stringify(json)), 'rules[0]', errors)).toEqual(rule);
    expect(errors).toEqual([]);
    expect(ruleToJson({ id: 'x', effect: 'allow', subjects: [{ trustDomain: 'any' }], methods: ['*'] })).toEqual({ id: 'x', effect: 'allow', subjects: [{ trustDomain: 'any' }], methods: ['*'] });
  });

  it('names the field of a bad expiry or a non-object', () => {
    const errors: FieldError[] = [];
    expect(ruleFromJson({ ...ruleToJson(rule), expiresAt: 1 }, 'rules[3]', errors)).toBeUndefined();
    expect(ruleFromJson('x', '', errors)).toBeUndefined();
    expect(ruleFromJson({ expiresAt: 'soon' }, '', errors)).toBeUndefined();
    expect(errors.map((e) => e.field)).toEqual(['rules[3].expiresAt', 'rule', 'expiresAt']);
  });

  it('validates a list with field paths under a prefix', () => {
    const { errors } = rulesFromJson([ruleToJson(rule), { ...ruleToJson(rule), id: 'r2', methods: ['/x.Y/Z'], sourceCidrs: ['10.0.0.1/8'] }], registry, 'authz.policy.rules');
    expect(errors.map((e) => e.field)).toEqual(['authz.policy.rules[1].sourceCidrs[0]', 'authz.policy.rules[1].methods[0]']);
    expect(rulesFromJson({}, registry, 'p').errors).toEqual([{ field: 'p', message: 'must be an array' }]);
  });

  it('splits rule field paths', () => {
    expect(splitRuleField('rules[12].methods[0]')).toEqual({ index: 12, tail: '.methods[0]' });
    expect(splitRuleField('rules[3]')).toEqual({ index: 3, tail: '' });
    for (const f of ['rules', 'rules[]', 'rules[a]', 'rule[1]', 'xrules[1]', 'rules[1', 'position']) expect(splitRuleField(f)).toBeUndefined();
  });
});

describe('loadPolicy', () => {
  const row = (id: string, rule: unknown): PolicyRow => ({ id, position: 0, rule, source: 'api', createdBy: 't', createdAt: new Date(0), updatedAt: new Date(0) });
  const own = SpiffeId.parse('spiffe://acme.test/w');

  it('drops unserved methods, skips rules left without one and malformed allow rules', () => {
    const loaded = loadPolicy(
      [
        row('a', { id: 'a', effect: 'allow', subjects: [{ trustDomain: 'own' }], methods: ['/gone.Svc/*', PULL] }),
        row('b', { id: 'b', effect: 'allow', subjects: [{ trustDomain: 'own' }], methods: ['/gone.Svc/X'] }),
        row('c', { id: 'c', effect: 'allow', subjects: [{ trustDomain: 'own' }], methods: ['*'], expiresAt: 'never' }),
        row('d', { id: 'other', effect: 'allow', subjects: [{ trustDomain: 'own' }], methods: ['*'] }),
      ],
      registry,
      'acme.test',
    );
    expect(loaded.rules).toEqual([{ id: 'a', effect: 'allow', subjects: [{ trustDomain: 'own' }], methods: [PULL] }]);
    expect(loaded.problems.map((p) => [p.id, p.field, p.action])).toEqual([
      ['a', 'methods[0]', 'method dropped'],
      ['b', 'methods[0]', 'method dropped'],
      ['b', 'methods', 'rule skipped'],
      ['c', 'expiresAt', 'rule skipped'],
      ['d', 'id', 'rule skipped'],
    ]);
    expect(loaded.compiled.decide({ id: own, method: PULL }).allowed).toBe(true);
    expect(loaded.compiled.decide({ id: own, method: '/grpc.health.v1.Health/Check' }).allowed).toBe(false);
  });

  it('denies everything when a stored deny rule is malformed', () => {
    const loaded = loadPolicy(
      [row('a', { id: 'a', effect: 'allow', subjects: [{ trustDomain: 'own' }], methods: ['*'] }), row('x', { id: 'x', effect: 'deny', subjects: [{ spiffeId: 'bad' }], methods: [PULL] })],
      registry,
      'acme.test',
    );
    expect(loaded.denyAll).toBe('stored deny rule "x" is malformed');
    expect(loaded.rules).toEqual([]);
    expect(loaded.compiled.decide({ id: own, method: PULL }).allowed).toBe(false);
    // A rule that is no object at all may have been a deny: everything is denied.
    expect(loadPolicy([row('y', null)], registry, 'acme.test').denyAll).toBe('stored deny rule "y" is malformed');
  });
});

describe('configRuleProblems (authz.policy.rules judged with the rest of the config)', () => {
  const ok = { id: 'a', effect: 'allow', subjects: [{ trustDomain: 'p.test' }], methods: [PULL], expiresAt: '2030-01-31T12:00:00Z' };

  it('finds nothing in valid rules, none declared, or shapes the schema reports itself', () => {
    expect(configRuleProblems({ authz: { policy: { rules: [ok] } } })).toEqual([]);
    expect(configRuleProblems({})).toEqual([]);
    expect(configRuleProblems({ authz: { policy: { rules: 'x' } } })).toEqual([]);
    expect(configRuleProblems({ authz: { policy: { rules: [7, ok] } } })).toEqual([]);
  });

  it('names every problem of every rule at once, by its declared index', () => {
    const rules = [
      ok,
      { id: 'b', effect: 'maybe', subjects: [{ trustDomain: 'p.test' }], methods: ['Pull'], expiresAt: 'tomorrow' },
      { id: 'a', effect: 'deny', subjects: [], methods: [PULL], colour: 'red' },
    ];
    const problems = configRuleProblems({ authz: { policy: { rules } } });
    expect(problems).toEqual(expect.arrayContaining([
      'authz.policy.rules[1].expiresAt: must be an RFC 3339 date-time such as 2030-01-31T12:00:00Z',
      'authz.policy.rules[1].effect: must be "allow" or "deny"',
      'authz.policy.rules[1].methods[0]: must be "/pkg.Service/Method", "/pkg.Service/*" or "*"',
      'authz.policy.rules[2].colour: unknown field',
      'authz.policy.rules[2].id: duplicate rule id (first used by rules[0])',
    ]));
    expect(problems.some((p) => p.startsWith('authz.policy.rules[2].subjects'))).toBe(true);
    expect(problems.some((p) => p.startsWith('authz.policy.rules[0]'))).toBe(false);
  });
});
