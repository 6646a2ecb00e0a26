/**
 * Property tests: the compiled policy (index, caches by ID text and by SpiffeId object, cache
 * windows) decides exactly as a naive scan of the rules.
 */
import { BlockList } from 'node:net';
import fc from 'fast-check';
import { authorizeMemberOf, authorizeOneOf, authorizePathPrefix, SpiffeId, TrustDomain } from '../../spiffe';
import { isNamespace, namespaceCovers } from './namespace';
import { parseFullMethod } from './methods';
import { compilePolicy, REASONS } from './policy';
import type { Decision, DecisionRequest, Rule } from './rule';
import { CHECK, METHODS, OWN, STORE, SYNC } from '../../../test/support/policy-fixtures';

const id = (s: string): SpiffeId => SpiffeId.parse(s);

function reference(rules: readonly Rule[], own: string, req: DecisionRequest): Decision {
  const parts = parseFullMethod(req.method);
  if (parts === undefined) return { allowed: false, reason: REASONS.malformedMethod };
  if (req.namespace !== undefined && !isNamespace(req.namespace)) return { allowed: false, reason: REASONS.malformedNamespace };
  const family = req.sourceIp === undefined ? undefined : ipFamily(req.sourceIp);
  const nowMs = (req.now ?? new Date()).getTime();
  let deny: string | undefined;
  let allow: string | undefined;
  const dry: string[] = [];
  for (const r of rules) {
    if (r.expiresAt !== undefined && nowMs >= r.expiresAt.getTime()) continue;
    const subjectOk = r.subjects.some((s) => {
      if ('spiffeId' in s) return authorizeOneOf(id(s.spiffeId))(req.id);
      if ('spiffeIdPrefix' in s) {
        const p = id(s.spiffeIdPrefix);
        return authorizePathPrefix(p.trustDomain, p.path)(req.id);
      }
      if (s.trustDomain === 'any') return true;
      if (s.trustDomain === 'own') return req.id.trustDomain.name === own;
      if (s.trustDomain === 'federated') return req.id.trustDomain.name !== own;
      return authorizeMemberOf(TrustDomain.parse(s.trustDomain))(req.id);
    });
    const methodOk = r.methods.some((m) => m === '*' || m === req.method || m === `/${parts.service}/*`);
    const nsOk =
      r.namespaces === undefined ||
      (req.namespace !== undefined ? r.namespaces.some((n) => namespaceCovers(n, req.namespace!)) : req.namespacePending === true && r.effect === 'allow');
    const cidrOk =
      r.sourceCidrs === undefined ||
      (family !== undefined &&
        r.sourceCidrs.some((c) => {
          const [addr, bits] = c.split('/');
          const cFamily = addr!.includes(':') ? 'ipv6' : 'ipv4';
          if (cFamily !== family) return false;
          const list = new BlockList();
          list.addSubnet(addr!, bits === undefined ? (cFamily === 'ipv4' ? 32 : 128) : Number(bits), cFamily);
          return list.check(req.sourceIp!, family);
        }));
    if (!(subjectOk && methodOk && nsOk && cidrOk)) continue;
    if (r.effect === 'deny' && r.dryRun === true) dry.push(r.id);
    else if (r.effect === 'deny') deny ??= r.id;
    else allow ??= r.id;
  }
  const extra = dry.length > 0 ? { dryRunDenied: dry } : {};
  if (deny !== undefined) return { allowed: false, rule: deny, reason: REASONS.deniedBy(deny), ...extra };
  if (allow !== undefined) return { allowed: true, rule: allow, reason: REASONS.allowedBy(allow), ...extra };
  return { allowed: false, reason: REASONS.noAllow, ...extra };
}

function ipFamily(ip: string): 'ipv4' | 'ipv6' {
  return ip.includes(':') ? 'ipv6' : 'ipv4';
}

describe('property: compiled decide equals a naive scan', () => {
  const TDS = ['example.org', 'partner.test', 'other.test'];
  const PATHS = ['', '/ns', '/ns/ml', '/ns/mlx', '/ns/ml/x', '/ns/ml/x/y', '/a'];
  const PATTERNS = ['*', STORE + '*', '/grpc.health.v1.Health/*', STORE + 'Pull', STORE + 'PullReferrer', STORE + 'Push', CHECK, SYNC];
  const NAMESPACES = ['team', 'team/ml', 'team/mlx', 'ops'];
  const REQ_NAMESPACES = [...NAMESPACES, 'team/ml/x', 'other'];
  const CIDRS = ['10.0.0.0/8', '10.1.0.0/16', '10.1.2.3', '0.0.0.0/0', '2001:db8::/32', '2001:db8:1::/48', '::/0'];
  const IPS = ['10.1.2.3', '10.2.0.1', '192.168.1.1', '2001:db8:1::1', '2001:db8:2::1', '::1'];
  // Expiry instants an hour apart around the real clock, so requests without `now` (the
  // decision's own clock, and the fast path of the per-SpiffeId tables) see expired and
  // unexpired rules too.
  const HOUR = 3_600_000;
  const NOW = Math.floor(Date.now() / HOUR) * HOUR;

  const subject = fc.oneof(
    fc.constantFrom('own', 'federated', 'any', ...TDS).map((trustDomain) => ({ trustDomain })),
    fc.tuple(fc.constantFrom(...TDS), fc.constantFrom(...PATHS)).map(([td, p]) => ({ spiffeId: `spiffe://${td}${p}` })),
    fc.tuple(fc.constantFrom(...TDS), fc.constantFrom(...PATHS)).map(([td, p]) => ({ spiffeIdPrefix: `spiffe://${td}${p}` })),
  );
  const rule = fc.record(
    {
      effect: fc.constantFrom<'allow' | 'deny'>('allow', 'allow', 'deny'),
      subjects: fc.array(subject, { minLength: 1, maxLength: 3 }),
      methods: fc.array(fc.constantFrom(...PATTERNS), { minLength: 1, maxLength: 3 }),
      namespaces: fc.array(fc.constantFrom(...NAMESPACES), { minLength: 1, maxLength: 2 }),
      sourceCidrs: fc.array(fc.constantFrom(...CIDRS), { minLength: 1, maxLength: 2 }),
      expiresAt: fc.integer({ min: -2, max: 2 }).map((d) => new Date(NOW + d * HOUR)),
      dryRun: fc.boolean(),
    },
    { requiredKeys: ['effect', 'subjects', 'methods'] },
  );
  const rules = fc
    .array(rule, { maxLength: 8 })
    .map((rs) => rs.map((r, i): Rule => ({ ...r, id: `r${i}`, dryRun: r.effect === 'deny' ? r.dryRun : undefined })).map(dropUndefined));
  const request = fc.record(
    {
      td: fc.constantFrom(...TDS, 'example.org.evil.com'),
      path: fc.constantFrom(...PATHS),
      method: fc.constantFrom(...METHODS, '/grpc.health.v1.Health/Watch'),
      namespace: fc.constantFrom(...REQ_NAMESPACES),
      sourceIp: fc.constantFrom(...IPS),
      namespacePending: fc.boolean(),
      now: fc.integer({ min: -3, max: 3 }).map((d) => new Date(NOW + d * HOUR)),
    },
    { requiredKeys: ['td', 'path', 'method'] },
  );

  it('on random rules and requests', () => {
    fc.assert(
      fc.property(rules, fc.array(request, { minLength: 1, maxLength: 4 }), (rs, reqs) => {
        const policy = compilePolicy(rs, { ownTrustDomain: OWN });
        // One SpiffeId object per ID text, as the gateway keeps one per connection.
        const objects = new Map<string, SpiffeId>();
        const shared = (text: string): SpiffeId => objects.get(text) ?? objects.set(text, id(text)).get(text)!;
        const check = (r: (typeof reqs)[number], toId: (text: string) => SpiffeId) => {
          const req: DecisionRequest = dropUndefined({ id: toId(`spiffe://${r.td}${r.path}`), method: r.method, namespace: r.namespace, namespacePending: r.namespacePending, sourceIp: r.sourceIp, now: r.now });
          expect(policy.decide(req)).toEqual(reference(rs, OWN, req));
        };
        for (const r of reqs) check(r, shared);
        // Again, from the per-object tables (and with the clock in other expiry windows), then
        // with new SpiffeId objects from the cache by text.
        for (const r of [...reqs].reverse()) check(r, shared);
        for (const r of reqs) check(r, id);
      }),
      { numRuns: 20_000 },
    );
  });

  it('on the calls of one connection (one SpiffeId object, interleaved clocks, addresses and namespaces)', () => {
    // Few methods and addresses, so that calls repeat and tables are shared.
    const mostlyAbsent = <T,>(a: fc.Arbitrary<T>) => fc.oneof({ arbitrary: fc.constant(undefined), weight: 3 }, { arbitrary: a, weight: 1 });
    const call = fc.record({
      method: fc.constantFrom(STORE + 'Pull', CHECK),
      namespace: mostlyAbsent(fc.constantFrom(...REQ_NAMESPACES)),
      sourceIp: fc.constantFrom(undefined, '10.1.2.3', '192.168.1.1'),
      namespacePending: fc.boolean(),
      now: fc.option(
        fc.integer({ min: -3, max: 3 }).map((d) => new Date(NOW + d * HOUR)),
        { nil: undefined },
      ),
    });
    fc.assert(
      fc.property(rules, fc.constantFrom(...TDS), fc.constantFrom(...PATHS), fc.array(call, { minLength: 2, maxLength: 12 }), (rs, td, path, calls) => {
        const policy = compilePolicy(rs, { ownTrustDomain: OWN });
        const peer = id(`spiffe://${td}${path}`);
        for (const c of [...calls, ...calls]) {
          const req: DecisionRequest = dropUndefined({ id: peer, ...c });
          expect(policy.decide(req)).toEqual(reference(rs, OWN, req));
        }
      }),
      { numRuns: 3_000 },
    );
  });
});

function dropUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
