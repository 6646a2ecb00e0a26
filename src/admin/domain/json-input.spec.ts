import { jsonErrorPosition, jsonNestingExceeds, jsonTextProblems, MAX_LISTED_PROBLEMS, pathProblem, queryTextProblems, textProblem } from './json-input';

describe('jsonNestingExceeds', () => {
  it.each([
    ['[]', 1, false],
    ['[[]]', 1, true],
    ['{"a":{"b":[1]}}', 3, false],
    ['{"a":{"b":[1]}}', 2, true],
    ['"[[[[[["', 1, false],
    ['["\\"[[[["]', 1, false],
    ['[{}, {}, [], []]', 2, false],
  ])('%s with bound %d: %s', (text, bound, expected) => {
    expect(jsonNestingExceeds(text, bound)).toBe(expected);
  });

  it('scans a deep document without recursion', () => {
    expect(jsonNestingExceeds('['.repeat(1_000_000), 32)).toBe(true);
  });
});

describe('textProblem', () => {
  it.each([
    ['plain', undefined],
    ['emoji \ud83d\ude00', undefined],
    ['a\u0000b', 'must not contain NUL characters'],
    ['\ud800', 'must not contain unpaired UTF-16 surrogates'],
    ['x\udc00', 'must not contain unpaired UTF-16 surrogates'],
    ['\ud800x', 'must not contain unpaired UTF-16 surrogates'],
  ])('%j: %s', (text, expected) => {
    expect(textProblem(text)).toBe(expected);
  });
});

describe('jsonTextProblems', () => {
  it('names every bad string and key with its path', () => {
    const value = { rules: [{ id: 'a\u0000', ok: 'fine' }], 'bad\u0000key': 1, 'odd key': ['\ud800'] };
    const byField = (a: { field: string }, b: { field: string }) => a.field.localeCompare(b.field);
    expect(jsonTextProblems(value).sort(byField)).toEqual([
      { field: 'body.rules[0].id', message: 'must not contain NUL characters' },
      { field: 'body["bad\\u0000key"]', message: 'key must not contain NUL characters' },
      { field: 'body["odd key"][0]', message: 'must not contain unpaired UTF-16 surrogates' },
    ].sort(byField));
  });

  it(`lists at most ${MAX_LISTED_PROBLEMS} and sums up the rest`, () => {
    const problems = jsonTextProblems(Array.from({ length: 30 }, () => '\u0000'));
    expect(problems).toHaveLength(MAX_LISTED_PROBLEMS + 1);
    expect(problems.at(-1)).toEqual({ field: 'body', message: '10 more problems not listed' });
  });
});

describe('queryTextProblems and pathProblem', () => {
  it('names the query parameter', () => {
    expect(queryTextProblems({ spiffeId: 'spiffe://a/\u0000', namespace: ['ok', 'x\u0000'], fine: 'yes' })).toEqual([
      { field: 'spiffeId', message: 'must not contain NUL characters' },
      { field: 'namespace', message: 'must not contain NUL characters' },
    ]);
    expect(queryTextProblems({ 'a\u0000': 'x' })).toEqual([{ field: 'query', message: 'a parameter name must not contain NUL characters' }]);
  });

  it('refuses malformed percent-encoding, invalid UTF-8 and NUL in the path', () => {
    expect(pathProblem('/v1/federations/partner.test')).toBeUndefined();
    expect(pathProblem('/v1/x/%E0%A4%A')).toBe('must be percent-encoded UTF-8');
    expect(pathProblem('/v1/x/%ED%A0%80')).toBe('must be percent-encoded UTF-8');
    expect(pathProblem('/v1/x/a%00b')).toBe('must not contain NUL characters');
  });
});

describe('jsonErrorPosition', () => {
  const parseError = (text: string): string => {
    try {
      JSON.parse(text);
    } catch (err) {
      return (err as Error).message;
    }
    return '';
  };

  it('reads the position of a JSON.parse error, and nothing of the text it quotes', () => {
    expect(jsonErrorPosition(parseError('{"a":1'))).toBe(6);
    expect(jsonErrorPosition(parseError('{"secret": nope}'))).toBeUndefined();
    expect(jsonErrorPosition('no position here')).toBeUndefined();
  });
});
