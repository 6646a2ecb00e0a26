import { SpiffeId } from '../../spiffe';
import { ExportSet, exportErrors, scopeAllows, scopeMayCover, type ExportDefinition } from './export';

const OWN = 'acme.test';
const id = (s: string) => SpiffeId.parse(s);
const EXPORTS: ExportDefinition[] = [
  { id: 'ml-shared', partner: { trustDomain: 'partner.test' }, namespaces: ['ml/shared'], actions: ['list', 'lookup', 'pull', 'pull_referrer'] },
  { id: 'eval-only', partner: { spiffeId: 'spiffe://partner.test/parley/gateway' }, namespaces: ['eval'], annotations: { stage: 'released' }, actions: ['pull'] },
  { id: 'team', partner: { spiffeIdPrefix: 'spiffe://other.test/ns/ml' }, namespaces: ['team'], actions: ['list'] },
];

describe('exports', () => {
  const set = new ExportSet(EXPORTS);

  it('give a caller the union of the exports that name it, and nothing to anyone else', () => {
    expect(set.scopeFor(id('spiffe://partner.test/parley/gateway')).map((e) => e.exportId)).toEqual(['ml-shared', 'eval-only']);
    expect(set.scopeFor(id('spiffe://partner.test/ns/x')).map((e) => e.exportId)).toEqual(['ml-shared']);
    expect(set.scopeFor(id('spiffe://other.test/ns/ml/sa/a')).map((e) => e.exportId)).toEqual(['team']);
    expect(set.scopeFor(id('spiffe://other.test/ns/mlx'))).toEqual([]);
    expect(set.scopeFor(id('spiffe://partner.test.evil/parley/gateway'))).toEqual([]);
    expect(set.scopeFor(id('spiffe://acme.test/parley/gateway'))).toEqual([]);
  });

  it('allow an action on a namespace (and below, on / boundaries) with a matching selector only', () => {
    const scope = set.scopeFor(id('spiffe://partner.test/parley/gateway'));
    expect(scopeAllows(scope, 'pull', 'ml/shared')).toBe(true);
    expect(scopeAllows(scope, 'pull', 'ml/shared/llama')).toBe(true);
    expect(scopeAllows(scope, 'pull', 'ml/sharedx')).toBe(false);
    expect(scopeAllows(scope, 'pull', 'ml')).toBe(false);
    expect(scopeAllows(scope, 'pull', 'eval', { stage: 'released' })).toBe(true);
    expect(scopeAllows(scope, 'pull', 'eval', { stage: 'draft' })).toBe(false);
    expect(scopeAllows(scope, 'list', 'eval', { stage: 'released' })).toBe(false);
    expect(scopeMayCover(scope, 'pull', 'eval')).toBe(true);
    expect(scopeMayCover(scope, 'list', 'eval')).toBe(false);
  });

  it('are validated with every problem at once, with field paths', () => {
    expect(exportErrors(EXPORTS[1], OWN)).toEqual([]);
    expect(exportErrors({ id: 'A', partner: { trustDomain: 'acme.test' }, namespaces: ['../etc', 'ok'], actions: ['push'], extra: 1 }, OWN)).toEqual([
      { field: 'extra', message: 'is not a known field' },
      { field: 'id', message: 'must match [a-z0-9][a-z0-9._-]{0,62}' },
      { field: 'partner.trustDomain', message: "names the gateway's own trust domain acme.test: own workloads need no export" },
      { field: 'namespaces[0]', message: expect.stringContaining('segment') },
      { field: 'actions[0]', message: 'must be one of list, lookup, pull, pull_referrer' },
    ]);
    expect(exportErrors({ id: 'x', partner: { trustDomain: 'A' }, namespaces: [], actions: [] }, OWN).map((e) => e.field)).toEqual(['partner.trustDomain', 'namespaces', 'actions']);
    expect(exportErrors({ id: 'x', partner: { trustDomain: 'a', spiffeId: 'spiffe://a/b' }, namespaces: ['a'], actions: ['pull'] }, OWN).map((e) => e.field)).toEqual(['partner']);
    expect(exportErrors('nope', OWN)).toEqual([{ field: '', message: 'must be an object' }]);
  });
});
