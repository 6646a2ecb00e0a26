import { matchDomain, nameConstraintViolation, uriHost } from './name-constraints';
import { CertInfo, NameConstraintsInfo } from './x509-parse';

describe('name constraint matching', () => {
  it.each<[string, string, boolean, boolean]>([
    ['acme.test', 'acme.test', false, true],
    ['acme.test', 'ACME.test', false, true],
    ['a.acme.test', 'acme.test', false, false],
    ['a.acme.test', 'acme.test', true, true],
    ['evilacme.test', 'acme.test', true, false],
    ['acme.test', '.acme.test', true, false],
    ['a.acme.test', '.acme.test', false, true],
    ['anything', '', false, true],
  ])('host %s vs constraint %s (subdomains=%s) -> %s', (host, constraint, subdomains, expected) => {
    expect(matchDomain(host, constraint, subdomains)).toBe(expected);
  });

  it.each<[string, string | undefined]>([
    ['spiffe://acme.test/x', 'acme.test'],
    ['spiffe://acme.test', 'acme.test'],
    ['https://user@Host.Example:8443/p?q#f', 'host.example'],
    ['https://[::1]/x', undefined],
    ['urn:uuid:123', undefined],
    ['spiffe:///x', undefined],
    ['https://h%41/x', undefined],
  ])('uriHost(%s) -> %s', (uri, host) => {
    expect(uriHost(uri)).toBe(host);
  });

  it('fails closed on unsupported forms and unparseable hosts', () => {
    const cert = (uris: string[], dnsNames: string[] = []) => ({ uris, dnsNames }) as unknown as CertInfo;
    const nc = (n: Partial<NameConstraintsInfo>): NameConstraintsInfo => ({ permitted: [], excluded: [], ...n });
    const unsupported = nc({ excluded: [{ kind: 'unsupported', what: 'ip address constraint' }] });
    expect(nameConstraintViolation(unsupported, [cert(['spiffe://acme.test/x'])])).toContain('unsupported');
    const uri = nc({ permitted: [{ kind: 'uri', value: 'acme.test' }] });
    expect(nameConstraintViolation(uri, [cert(['urn:x'])])).toContain('no host');
    expect(nameConstraintViolation(uri, [cert(['spiffe://acme.test/x'], ['anything.example'])])).toBeUndefined();
    const dns = nc({ excluded: [{ kind: 'dns', value: 'bad.test' }] });
    expect(nameConstraintViolation(dns, [cert([], ['x.BAD.test'])])).toContain('excluded');
    expect(nameConstraintViolation(dns, [cert(['spiffe://bad.test/x'])])).toBeUndefined();
  });
});
