import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { newEnforcer, newModelFromString, StringAdapter, Util } from 'casbin';
import fc from 'fast-check';
import { SpiffeId } from '../../spiffe';
import { importCasbinPolicy, type CasbinImport } from './casbin-import';
import { casbinAdmits, compileSimpleRegex, keyMatch, simpleRegexMatches } from './casbin-match';
import { MethodRegistry } from './methods';
import { compilePolicy } from './policy';
import { validateRules } from './validate';

const STORE = '/parley.store.v1.StoreService/';
const SYNC = '/parley.sync.v1.SyncService/';
const STORE_METHODS = ['Push', 'Pull', 'Lookup', 'Delete', 'List', 'PushReferrer', 'PullReferrer', 'DeleteReferrer'].map((m) => STORE + m);
const SYNC_METHODS = ['CreateSync', 'ListSyncs', 'GetSync', 'DeleteSync', 'RequestRegistryCredentials'].map((m) => SYNC + m);
const CHECK = '/grpc.health.v1.Health/Check';
const METHODS = [...STORE_METHODS, ...SYNC_METHODS, CHECK];
const registry = new MethodRegistry(METHODS);
const OWN = 'example.org';
const options = { ownTrustDomain: OWN, registry };
const fixture = (name: string): string => readFileSync(join(__dirname, '../../../test/fixtures/casbin', name), 'utf8');

function one(line: string): CasbinImport['lines'][number] & { rules: CasbinImport['rules'] } {
  const r = importCasbinPolicy(line, options);
  expect(r.lines).toHaveLength(1);
  return { ...r.lines[0]!, rules: r.rules };
}

describe("Directory's default policy", () => {
  const result = importCasbinPolicy(fixture('directory-default.csv'), options);

  it('reports every line, with the lookalike and prefix differences', () => {
    expect(result.lines.map((l) => [l.line, l.status, l.ruleId])).toEqual([
      [1, 'skipped', undefined],
      [2, 'skipped', undefined],
      [3, 'differs', 'casbin-L3'],
      [4, 'differs', 'casbin-L4'],
      [5, 'imported', 'casbin-L5'],
      [6, 'imported', 'casbin-L6'],
      [7, 'differs', 'casbin-L7'],
    ]);
    expect(result.lines[0]!.message).toBe('comment');
    expect(result.lines[2]!.message).toBe(
      'trust domain: under Casbin regexMatch (unanchored, "." matches any character) "example.org" also admits "example.org.evil.example", "evil-example.org", "examplexorg", …; imported as exactly "example.org"',
    );
    expect(result.lines[3]!.message).toBe(
      `method: under Casbin regexMatch (unanchored) "/agntcy.dir.store.v1.StoreService/Pull" also admits ${STORE}PullReferrer; imported as exactly ${STORE}Pull`,
    );
    expect(result.lines[6]!.message).toBe(
      `Directory serves SyncService as agntcy.dir.store.v1.SyncService, so under Directory "/agntcy.dir.sync.v1.SyncService/RequestRegistryCredentials" matched no method and granted nothing; imported as "${SYNC}RequestRegistryCredentials"`,
    );
  });

  it('maps the methods to Parley names and gives the same rules as the Parley-named file', () => {
    expect(result.rules.map((r) => [r.id, r.subjects, r.methods])).toEqual([
      ['casbin-L3', [{ trustDomain: 'example.org' }], ['*']],
      ['casbin-L4', [{ trustDomain: 'any' }], [`${STORE}Pull`]],
      ['casbin-L5', [{ trustDomain: 'any' }], [`${STORE}PullReferrer`]],
      ['casbin-L6', [{ trustDomain: 'any' }], [`${STORE}Lookup`]],
      ['casbin-L7', [{ trustDomain: 'any' }], [`${SYNC}RequestRegistryCredentials`]],
    ]);
    expect(result.rules[0]!.description).toBe('casbin line 3: "p,example.org,*"');
    const parley = importCasbinPolicy(fixture('parley-default.csv'), options);
    expect(parley.rules.map((r) => [r.subjects, r.methods])).toEqual(result.rules.map((r) => [r.subjects, r.methods]));
    expect(validateRules(result.rules, registry)).toEqual([]);
  });

  it('compiles to the Directory trust model, without the lookalikes', () => {
    const policy = compilePolicy(result.rules, { ownTrustDomain: OWN });
    const allowed = (td: string, m: string): boolean => policy.decide({ id: SpiffeId.parse(`spiffe://${td}/w`), method: m }).allowed;
    for (const m of METHODS) expect(allowed('example.org', m)).toBe(true);
    const readOnly = new Set([`${STORE}Pull`, `${STORE}PullReferrer`, `${STORE}Lookup`, `${SYNC}RequestRegistryCredentials`]);
    for (const td of ['partner.test', 'example.org.evil.com', 'examplexorg']) {
      for (const m of METHODS) expect([td, m, allowed(td, m)]).toEqual([td, m, readOnly.has(m)]);
    }
  });
});

describe('agreement with node-casbin', () => {
  /** Directory's model, as Casbin reads it. */
  const model = fixture('directory-model.conf');

  it('decides like Casbin on the imported lines except for the lookalikes it reports', async () => {
    const csv = `${fixture('parley-default.csv')}p, partner.test, ${STORE}Push\np, partner.test, ${SYNC}*\n`;
    const enforcer = await newEnforcer(newModelFromString(model), new StringAdapter(csv));
    const policy = compilePolicy(importCasbinPolicy(csv, options).rules, { ownTrustDomain: OWN });
    const lookalikes = new Set(['example.org.evil.com', 'examplexorg', 'evil-example.org', 'partner.test.evil.com', 'partnerxtest']);
    const disagreements: string[] = [];
    for (const td of ['example.org', 'partner.test', 'other.test', ...lookalikes]) {
      for (const m of METHODS) {
        const parley = policy.decide({ id: SpiffeId.parse(`spiffe://${td}/w`), method: m }).allowed;
        if (parley !== enforcer.enforceSync(td, m)) disagreements.push(`${td} ${m} parley=${parley}`);
      }
    }
    // Casbin also lets partner.test call PushReferrer (`Push` is an unanchored regex) and the lookalikes call what their originals may.
    const expected = [`partner.test ${STORE}PushReferrer parley=false`];
    for (const td of lookalikes) {
      const original = td.startsWith('partner') ? 'partner.test' : 'example.org';
      for (const m of METHODS) {
        const originalAllowed = policy.decide({ id: SpiffeId.parse(`spiffe://${original}/w`), method: m }).allowed || (original === 'partner.test' && m === `${STORE}PushReferrer`);
        const own = policy.decide({ id: SpiffeId.parse(`spiffe://${td}/w`), method: m }).allowed;
        if (originalAllowed && !own) expected.push(`${td} ${m} parley=false`);
      }
    }
    expect(disagreements.sort()).toEqual(expected.sort());
    expect(disagreements.length).toBeGreaterThan(20);
  });
});

describe('line table', () => {
  const table: Array<[string, string, 'imported' | 'differs' | 'skipped' | 'error', string | undefined]> = [
    ['everything for everyone', 'p, *, *', 'imported', undefined],
    ['service wildcard', `p,*,${STORE}*`, 'imported', undefined],
    ['exact method without lookalike methods', `p,*,${SYNC}GetSync`, 'imported', undefined],
    ['List is no prefix of a served method', `p,*,${STORE}List`, 'imported', undefined],
    ['Push admits PushReferrer', `p,*,${STORE}Push`, 'differs', `also admits ${STORE}PushReferrer;`],
    ['Delete admits DeleteReferrer', `p,*,${STORE}Delete`, 'differs', `also admits ${STORE}DeleteReferrer;`],
    ['single-label trust domain', 'p,localhost,*', 'differs', 'regexMatch (unanchored) "localhost" also admits "localhost.evil.example", "evil-localhost", …'],
    ['short pattern admits the own trust domain', 'p,org,*', 'differs', 'also admitted the own trust domain "example.org", the import does not'],
    ['keyword-named trust domain', 'p,own,*', 'differs', 'imported as exactly "own"'],
    ['extra fields', 'p,*,*,read,allow', 'imported', 'fields after api_method ignored (Directory\'s model has none): "read", "allow"'],
    ['quoted fields', `p, "partner.test" , "${STORE}Lookup"`, 'differs', 'imported as exactly "partner.test"'],
    ['leading keyMatch wildcard', 'p,*.example.org,*', 'error', 'pattern: under Casbin "*.example.org" admits every trust domain (keyMatch: "*" admits any suffix); it admits the own trust domain "example.org"; not imported'],
    ['trailing keyMatch wildcard', 'p,example.*,*', 'error', 'admits every trust domain starting with "example." (keyMatch: "*" admits any suffix from its position) and every trust domain its regular expression matches (regexMatch, unanchored unless "^"/"$"); it admits the own trust domain "example.org"; not imported'],
    ['regex trust domain', 'p,^.*\\.example\\.org$,*', 'error', 'pattern: under Casbin "^.*\\\\.example\\\\.org$" admits every trust domain its regular expression matches (regexMatch, unanchored unless "^"/"$"); not imported, list the trust domains'],
    ['invalid trust domain', 'p,Partner.Test,*', 'error', 'invalid trust domain "Partner.Test"'],
    ['keyMatch wildcard in a method', `p,*,${STORE}Pu*`, 'error', `admits ${STORE}Pull, ${STORE}PullReferrer, ${STORE}Push, ${STORE}PushReferrer; not imported`],
    ['keyMatch wildcard in a Directory method', 'p,*,/agntcy.dir.store.v1.StoreService/Pull*', 'error', `"/agntcy.dir.store.v1.StoreService/Pull*" (${STORE}Pull*) admits ${STORE}Pull, ${STORE}PullReferrer;`],
    ['anchored regex method', `p,*,^${STORE}Pull$`, 'error', `regular expression ("^"): under Casbin "^${STORE}Pull$" admits ${STORE}Pull; not imported`],
    ['unevaluated regex method', `p,*,${STORE}(Pull|Push)`, 'error', 'admits no served method (its regular expression was not evaluated)'],
    ['wildcard inside the service name', 'p,*,/parley.s*/*', 'error', `keyMatch wildcard other than "/<service>/*": "*" admits any suffix from its position, so under Casbin "/parley.s*/*" admits ${[...STORE_METHODS, ...SYNC_METHODS].sort().join(', ')}; not imported`],
    ['bare slash wildcard', 'p,*,/*', 'error', `admits ${[...METHODS].sort().join(', ')}; not imported`],
    ['Directory service Parley does not serve', 'p,*,/agntcy.dir.search.v1.SearchService/SearchRecords', 'error', 'unknown method "/agntcy.dir.search.v1.SearchService/SearchRecords" (not served)'],
    ['unknown method', `p,*,${STORE}Nope`, 'error', `unknown method "${STORE}Nope" (not served)`],
    ['unknown service', 'p,*,/x.Y/*', 'error', 'unknown service "/x.Y/*" (not served)'],
    ['method without service', 'p,*,Pull', 'error', 'malformed method "Pull"'],
    ['missing field', 'p,partner.test', 'error', 'malformed policy line'],
    ['empty field', 'p,,*', 'error', 'malformed policy line'],
    ['unterminated quote', 'p,"partner.test,*', 'error', 'malformed CSV: unterminated quoted field'],
    ['bare quote', 'p,part"ner.test,*', 'error', 'malformed CSV: quote inside an unquoted field'],
    ['text after quote', 'p,"a"b,*', 'error', 'malformed CSV: text after a quoted field'],
    ['role line', 'g, partner.test, readers', 'skipped', 'role line "g": Directory\'s model defines no roles'],
    ['second role type', 'g2, a, b', 'skipped', 'role line "g2"'],
    ['other policy type', 'p2, a, b', 'skipped', 'policy type "p2" is not in Directory\'s model'],
    ['unknown line type', 'x, a, b', 'error', 'unknown line type "x" (expected "p")'],
    ['blank line', '   ', 'skipped', 'blank line'],
    ['comment', '  # p,*,*', 'skipped', 'comment'],
  ];

  it.each(table)('%s: %s → %s', (_name, line, status, message) => {
    const r = one(line);
    expect(r.status).toBe(status);
    if (message === undefined) expect(r.message).toBeUndefined();
    else expect(r.message).toContain(message);
    expect(r.rules).toHaveLength(status === 'imported' || status === 'differs' ? 1 : 0);
    expect(r.ruleId).toBe(r.rules[0]?.id);
    expect(validateRules(r.rules, registry)).toEqual([]);
  });

  it('names a keyword-named trust domain by its SPIFFE ID prefix', () => {
    expect(one('p,own,*').rules[0]!.subjects).toEqual([{ spiffeIdPrefix: 'spiffe://own' }]);
  });
});

describe('file handling', () => {
  it('numbers lines from 1 across CRLF, blank lines and comments, and keeps one rule per distinct grant', () => {
    const r = importCasbinPolicy(fixture('partners-mixed.csv').split('\n').join('\r\n'), options);
    const by = (status: string): number[] => r.lines.filter((l) => l.status === status).map((l) => l.line);
    expect(r.lines).toHaveLength(23);
    expect(r.lines.every((l) => l.text.length === 0 || l.text.charCodeAt(l.text.length - 1) !== 0x0d)).toBe(true);
    expect(by('imported')).toEqual([]);
    expect(by('differs')).toEqual([2, 5, 6, 7, 8, 9, 12]);
    expect(by('error')).toEqual([18, 19, 20]);
    expect(r.lines[14]).toMatchObject({ line: 15, status: 'skipped', ruleId: 'casbin-L7', message: 'duplicate: rule casbin-L7 already grants this' });
    expect(r.lines[22]).toMatchObject({ line: 23, status: 'skipped' });
    expect(r.rules.map((x) => x.id)).toEqual(['casbin-L2', 'casbin-L5', 'casbin-L6', 'casbin-L7', 'casbin-L8', 'casbin-L9', 'casbin-L12']);
    expect(r.rules[6]!.methods).toEqual([`${SYNC}*`]);
    expect(validateRules(r.rules, registry)).toEqual([]);
  });

  it('rejects invalid options as a programming error', () => {
    expect(() => importCasbinPolicy('', { ownTrustDomain: 'spiffe://x', registry })).toThrow(TypeError);
    expect(() => importCasbinPolicy('', { ownTrustDomain: OWN, registry: {} as MethodRegistry })).toThrow(TypeError);
  });
});

describe('never throws', () => {
  const check = (csv: string): void => {
    const r = importCasbinPolicy(csv, options);
    const lineCount = csv.split('\n').length - (csv.length > 0 && csv.charCodeAt(csv.length - 1) === 0x0a ? 1 : 0);
    expect(r.lines).toHaveLength(Math.max(lineCount, 1));
    r.lines.forEach((l, i) => expect(l.line).toBe(i + 1));
    expect(validateRules(r.rules, registry)).toEqual([]);
    const ids = new Set(r.rules.map((x) => x.id));
    expect(ids.size).toBe(r.rules.length);
    for (const l of r.lines) if (l.status === 'imported' || l.status === 'differs') expect(ids.has(l.ruleId!)).toBe(true);
  };
  const piece = fc.constantFrom('p', 'g', ',', ' ', '"', '*', '.', '^', '$', '\\', '/', '#', '\n', '\r', 'example.org', STORE, 'Pull', 'agntcy.dir.store.v1.StoreService', '(', '+', '?');

  it('on random text', () => {
    fc.assert(fc.property(fc.string({ maxLength: 200, unit: 'binary' }), (s) => check(s)), { numRuns: 200 });
  });

  it('on random bytes read as UTF-8', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (b) => check(Buffer.from(b).toString('utf8'))), { numRuns: 300 });
  });

  it('on policy-shaped text', () => {
    fc.assert(fc.property(fc.array(piece, { maxLength: 40 }), (parts) => check(parts.join(''))), { numRuns: 500 });
  });
});

describe("Casbin's matching functions", () => {
  const alphabet = fc.constantFrom('a', 'b', '.', '/', '1', '_', '\n');
  const token = fc.constantFrom('a', 'b', '.', '/', '1', '*', '+', '?', '\\.', '\\d', '\\w', '\\s', '\\/', '(', '[', '|', '{');
  const pattern = fc.tuple(fc.boolean(), fc.array(token, { maxLength: 8 }), fc.boolean()).map(([s, t, e]) => `${s ? '^' : ''}${t.join('')}${e ? '$' : ''}`);
  const text = fc.array(alphabet, { maxLength: 10 }).map((t) => t.join(''));

  it('keyMatch agrees with node-casbin', () => {
    fc.assert(fc.property(text, pattern, (x, p) => expect(keyMatch(x, p)).toBe(Util.keyMatchFunc(x, p))), { numRuns: 2000 });
  });

  it('the regex subset agrees with JavaScript regular expressions where it compiles', () => {
    let compiled = 0;
    fc.assert(
      fc.property(text, pattern, (x, p) => {
        const re = compileSimpleRegex(p);
        if (re === undefined) return;
        compiled++;
        expect([p, x, simpleRegexMatches(re, x)]).toEqual([p, x, new RegExp(p).test(x)]);
      }),
      { numRuns: 3000 },
    );
    expect(compiled).toBeGreaterThan(1000);
  });

  it('casbinAdmits is keyMatch || regexMatch', () => {
    expect(casbinAdmits('example.org.evil.com', 'example.org')).toBe(true);
    expect(casbinAdmits('exampleXorg', 'example.org')).toBe(true);
    expect(casbinAdmits(`${STORE}PullReferrer`, `${STORE}Pull`)).toBe(true);
    expect(casbinAdmits('anything', '*')).toBe(true);
    expect(casbinAdmits('x.partner.example', '^.*\\.partner\\.example$')).toBe(true);
    expect(casbinAdmits('partner.example', '^.*\\.partner\\.example$')).toBe(false);
    expect(casbinAdmits('a', '(a|b)')).toBeUndefined();
  });
});
