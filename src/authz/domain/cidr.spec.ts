import { cidrContains, parseCidr, parseIp, parseIpv4, parseIpv6, type Cidr } from './cidr';
import { isNamespace, namespaceCovers } from './namespace';
import { parseFullMethod, parseMethodPattern } from './methods';

function cidr(s: string): Cidr {
  const c = parseCidr(s);
  if (typeof c === 'string') throw new Error(`${s}: ${c}`);
  return c;
}

function inside(block: string, ip: string): boolean {
  return cidrContains(cidr(block), parseIp(ip)!);
}

describe('IP parsing', () => {
  it.each(['0.0.0.0', '10.1.2.3', '255.255.255.255'])('accepts IPv4 %s', (s) => {
    expect(parseIpv4(s)).toBeDefined();
  });

  it.each(['', '1.2.3', '1.2.3.4.5', '256.0.0.1', '01.2.3.4', '1..2.3', '1.2.3.4 ', 'a.b.c.d', '1.2.3.-4'])('rejects IPv4 %j', (s) => {
    expect(parseIpv4(s)).toBeUndefined();
  });

  it.each([
    ['::', '00000000000000000000000000000000'],
    ['::1', '00000000000000000000000000000001'],
    ['2001:db8::', '20010db8000000000000000000000000'],
    ['2001:DB8:0:0:0:0:0:1', '20010db8000000000000000000000001'],
    ['fe80::1:2', 'fe800000000000000000000000010002'],
    ['1:2:3:4:5:6:7::', '00010002000300040005000600070000'],
    ['::ffff:192.0.2.1', '00000000000000000000ffffc0000201'],
    ['64:ff9b::10.0.0.1', '0064ff9b0000000000000000 0a000001'.replace(' ', '')],
  ])('parses IPv6 %s', (s, hex) => {
    expect(Buffer.from(parseIpv6(s)!).toString('hex')).toBe(hex);
  });

  it.each([':', ':::', '1:2:3:4:5:6:7:8:9', '1::2::3', '12345::', 'g::', '1:2:3:4:5:6:7', '1::2:3:4:5:6:7:8', '::1:', ':1::', 'fe80::1%eth0', '::1.2.3', '1:2:3:4:5:6:7:1.2.3.4'])(
    'rejects IPv6 %j',
    (s) => {
      expect(parseIpv6(s)).toBeUndefined();
    },
  );

  it('treats IPv4-mapped IPv6 request addresses as IPv4', () => {
    expect(Array.from(parseIp('::ffff:10.1.2.3')!)).toEqual([10, 1, 2, 3]);
    expect(parseIp('::1')!.length).toBe(16);
    expect(parseIp('nope')).toBeUndefined();
  });
});

describe('CIDR', () => {
  it('matches IPv4 blocks on bit boundaries', () => {
    expect(inside('10.0.0.0/8', '10.255.0.1')).toBe(true);
    expect(inside('10.0.0.0/8', '11.0.0.1')).toBe(false);
    expect(inside('192.168.4.0/22', '192.168.7.255')).toBe(true);
    expect(inside('192.168.4.0/22', '192.168.8.0')).toBe(false);
    expect(inside('0.0.0.0/0', '1.2.3.4')).toBe(true);
    expect(inside('1.2.3.4', '1.2.3.4')).toBe(true);
    expect(inside('1.2.3.4', '1.2.3.5')).toBe(false);
  });

  it('matches IPv6 blocks and never mixes families', () => {
    expect(inside('2001:db8::/32', '2001:db8:ffff::1')).toBe(true);
    expect(inside('2001:db8::/32', '2001:db9::1')).toBe(false);
    expect(inside('2001:db8:8000::/33', '2001:db8:7fff::1')).toBe(false);
    expect(inside('::/0', '10.0.0.1')).toBe(false);
    expect(inside('0.0.0.0/0', '::1')).toBe(false);
    expect(inside('10.0.0.0/8', '::ffff:10.0.0.1')).toBe(true);
  });

  it.each([
    ['', 'must be a non-empty string'],
    ['10.0.0.0/', 'prefix length must be a decimal number'],
    ['10.0.0.0/33', 'prefix length exceeds 32'],
    ['10.0.0.0/08', 'prefix length has a leading zero'],
    ['10.0.0.0/8/8', 'more than one "/"'],
    ['10.0.0.1/8', 'address has bits set beyond the prefix length'],
    ['2001:db8::/129', 'prefix length exceeds 128'],
    ['2001:db8::1/64', 'address has bits set beyond the prefix length'],
    ['example.org/8', 'not an IPv4 or IPv6 address'],
    ['10.0.0.0/-1', 'prefix length must be a decimal number'],
  ])('rejects %j: %s', (s, why) => {
    expect(parseCidr(s)).toBe(why);
  });
});

describe('namespaces and method names', () => {
  it('covers on / boundaries only', () => {
    expect(namespaceCovers('team/ml', 'team/ml')).toBe(true);
    expect(namespaceCovers('team/ml', 'team/ml/x')).toBe(true);
    expect(namespaceCovers('team/ml', 'team/mlx')).toBe(false);
    expect(namespaceCovers('team/ml', 'team')).toBe(false);
    expect(['a', 'a/b'].every(isNamespace)).toBe(true);
    expect(['', '/a', 'a/', 'a//b'].some(isNamespace)).toBe(false);
  });

  it('parses full methods and patterns exactly', () => {
    expect(parseFullMethod('/parley.store.v1.StoreService/Pull')).toEqual({ service: 'parley.store.v1.StoreService', method: 'Pull' });
    for (const bad of ['', '*', '/a/*', 'a/b', '/a/b/c', '//b', '/a/', '/.a/b', '/a..b/c', '/a b/c']) {
      expect(parseFullMethod(bad)).toBeUndefined();
    }
    expect(parseMethodPattern('*')).toEqual({ kind: 'all' });
    expect(parseMethodPattern('/a.B/*')).toEqual({ kind: 'service', service: 'a.B' });
    expect(parseMethodPattern('/a.B/C')).toEqual({ kind: 'method', service: 'a.B', method: 'C' });
    for (const bad of ['**', '/*/*', '/a.B/C*', '/a.B/**', 'a.B/C']) expect(parseMethodPattern(bad)).toBeUndefined();
  });
});
