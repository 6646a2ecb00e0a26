import { bearerChallenge, nextLink, parseWwwAuthenticate } from './oci-headers';

describe('parseWwwAuthenticate', () => {
  it.each([
    ['Bearer realm="https://auth.example/token",service="registry.example",scope="repository:models/llama:pull"', [{ scheme: 'bearer', params: { realm: 'https://auth.example/token', service: 'registry.example', scope: 'repository:models/llama:pull' } }]],
    ['Basic realm="Registry Realm"', [{ scheme: 'basic', params: { realm: 'Registry Realm' } }]],
    ['Basic realm="a", Bearer realm="https://t/x", service=reg', [{ scheme: 'basic', params: { realm: 'a' } }, { scheme: 'bearer', params: { realm: 'https://t/x', service: 'reg' } }]],
    ['Bearer realm="quoted \\"inner\\" value"', [{ scheme: 'bearer', params: { realm: 'quoted "inner" value' } }]],
    ['', []],
    ['Bearer realm="unterminated', [{ scheme: 'bearer', params: {} }]],
  ])('%s', (header, expected) => {
    expect(parseWwwAuthenticate(header)).toEqual(expected);
  });

  it('finds the bearer challenge with a realm only', () => {
    expect(bearerChallenge('Basic realm="x"')).toBeUndefined();
    expect(bearerChallenge('Bearer service="x"')).toBeUndefined();
    expect(bearerChallenge('Bearer realm="https://t/token",scope="repository:a:pull"')).toEqual({ realm: 'https://t/token', scope: 'repository:a:pull' });
  });
});

describe('nextLink', () => {
  const base = 'https://127.0.0.1:5000/v2/models/llama/tags/list?n=2';
  it.each([
    ['</v2/models/llama/tags/list?last=b&n=2>; rel="next"', '/v2/models/llama/tags/list?last=b&n=2'],
    ['<https://127.0.0.1:5000/v2/x/tags/list?last=c>; rel=next', '/v2/x/tags/list?last=c'],
    ['<https://elsewhere.example/v2/x/tags/list?last=c>; rel="next"', undefined],
    ['</v2/x/tags/list?last=a>; rel="prev", </v2/x/tags/list?last=z>; rel="next"', '/v2/x/tags/list?last=z'],
    ['</v2/x/tags/list?last=a>; rel="prev"', undefined],
    [undefined, undefined],
  ])('%s', (header, expected) => {
    expect(nextLink(header, base)).toBe(expected);
  });
});
