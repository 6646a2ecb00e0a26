import { casbinIdConflicts } from './casbin-conflicts';
import { importCasbinPolicy } from './casbin-import';
import { MethodRegistry } from './methods';

const STORE = '/parley.store.v1.StoreService/';
const options = { ownTrustDomain: 'example.org', registry: new MethodRegistry([STORE + 'Pull', STORE + 'Lookup']) };
const report = importCasbinPolicy(`# partners\np, partner.test, ${STORE}Pull\n\np, partner.test, ${STORE}Lookup\n`, options);

describe('casbinIdConflicts', () => {
  it('names the CSV line of every id an earlier import left, and says --replace', () => {
    const kept = [
      { id: 'default-own', source: 'seed' },
      { id: 'casbin-L2', source: 'api' },
      { id: 'casbin-L4', source: 'api' },
    ];
    expect(casbinIdConflicts(report, kept, 'append')).toEqual([
      { field: 'csv:2', message: expect.stringMatching(/^rule id casbin-L2 already in the policy \(imported before\?\); --replace replaces /) },
      { field: 'csv:4', message: expect.stringMatching(/^rule id casbin-L4 already in the policy/) },
    ]);
  });

  it('a config-declared rule of the same id is named as such (--replace keeps it)', () => {
    expect(casbinIdConflicts(report, [{ id: 'casbin-L4', source: 'config' }], 'replace')).toEqual([
      { field: 'csv:4', message: 'rule id casbin-L4 already declared in the config file (authz.policy.rules); rename that rule' },
    ]);
  });

  it('nothing when the ids are free', () => {
    expect(casbinIdConflicts(report, [{ id: 'default-own', source: 'seed' }], 'append')).toEqual([]);
  });
});
