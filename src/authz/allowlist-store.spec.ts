import { allowlistDecision, allowlistErrors, MAX_ALLOWLIST_CIDRS } from './allowlist-store';
import { parseCidr, type Cidr } from './domain';

function cidrs(...texts: string[]): Cidr[] {
  return texts.map((t) => {
    const c = parseCidr(t);
    if (typeof c === 'string') throw new Error(`${t}: ${c}`);
    return c;
  });
}

describe('allowlist decisions', () => {
  const list = cidrs('192.0.2.0/24', '10.1.0.0/16', '2001:db8::/32', '127.0.0.1');

  it('allows any address of a trust domain without a list', () => {
    expect(allowlistDecision('partner.example', undefined, '203.0.113.9')).toBeUndefined();
    expect(allowlistDecision('partner.example', undefined, 'not an address')).toBeUndefined();
  });

  it.each([
    ['IPv4 inside a block', '192.0.2.77'],
    ['IPv4 inside a /16', '10.1.255.1'],
    ['a single-host entry', '127.0.0.1'],
    ['IPv6 inside a block', '2001:db8:0:1::5'],
    ['IPv4-mapped IPv6 of an allowed IPv4 address', '::ffff:192.0.2.77'],
    ['IPv4-mapped IPv6 of loopback', '::ffff:127.0.0.1'],
    ['IPv4-mapped IPv6 in hex groups', '::ffff:c000:24d'],
  ])('allows %s', (_what, ip) => {
    expect(allowlistDecision('partner.example', list, ip)).toBeUndefined();
  });

  it.each([
    ['IPv4 outside every block', '192.0.3.1'],
    ['the neighbour of a single host', '127.0.0.2'],
    ['IPv6 outside', '2001:db9::1'],
    ['IPv4-mapped IPv6 of a refused IPv4 address', '::ffff:203.0.113.9'],
    ['an IPv4-compatible (not mapped) IPv6 address', '::c000:24d'],
  ])('refuses %s', (_what, ip) => {
    expect(allowlistDecision('partner.example', list, ip)).toMatch(/not in the allowlist of trust domain partner\.example/);
  });

  it.each([['empty', ''], ['garbage', 'nonsense'], ['a zone id', 'fe80::1%eth0'], ['a port', '192.0.2.1:443'], ['not a string', undefined as unknown as string]])(
    'fails closed on an unparsable source address (%s)',
    (_what, ip) => {
      expect(allowlistDecision('partner.example', list, ip)).toMatch(/cannot be parsed/);
    },
  );

  it('refuses every address when the list is empty', () => {
    expect(allowlistDecision('partner.example', [], '192.0.2.1')).toBe('source address 192.0.2.1 is not in the allowlist of trust domain partner.example');
  });

  it('matches an IPv4 source against an IPv4-mapped IPv6 block never (families are kept apart)', () => {
    expect(allowlistDecision('td', cidrs('::ffff:0:0/96'), '192.0.2.1')).toBe('source address 192.0.2.1 is not in the allowlist of trust domain td');
  });
});

describe('allowlist validation', () => {
  it('accepts valid input', () => {
    expect(allowlistErrors('partner.example', ['192.0.2.0/24', '2001:db8::/32', '198.51.100.7'])).toEqual([]);
    expect(allowlistErrors('partner.example', [])).toEqual([]);
  });

  it('names every bad block by index', () => {
    expect(allowlistErrors('partner.example', ['192.0.2.0/24', '10.1.2.3/8', 'x', 7])).toEqual([
      { field: 'cidrs[1]', message: expect.stringMatching(/bits set beyond the prefix/) },
      { field: 'cidrs[2]', message: expect.any(String) },
      { field: 'cidrs[3]', message: 'must be a string' },
    ]);
  });

  it.each([['spiffe://partner.example'], ['Partner.Example'], [''], ['bad domain']])('refuses the trust domain %j', (td) => {
    expect(allowlistErrors(td, [])).toEqual([{ field: 'trustDomain', message: expect.any(String) }]);
  });

  it('refuses a missing or oversized list', () => {
    expect(allowlistErrors('td', undefined)).toEqual([{ field: 'cidrs', message: expect.any(String) }]);
    expect(allowlistErrors('td', '192.0.2.0/24')).toEqual([{ field: 'cidrs', message: expect.any(String) }]);
    expect(allowlistErrors('td', new Array(MAX_ALLOWLIST_CIDRS + 1).fill('192.0.2.1'))).toEqual([{ field: 'cidrs', message: expect.any(String) }]);
  });
});
