import { ADMIN_ROLE_NAMES } from '../../config/admin-schema';
import { requireSpiffeId } from '../../spiffe';
import { ADMIN_PERMISSIONS, ADMIN_ROLES, AdminRoles, describeBinding, describeRoles, ROLE_PERMISSIONS, roleBindingsOf, type AdminPermission } from './roles';

const id = (s: string) => requireSpiffeId(s);
const READS = ADMIN_PERMISSIONS.filter((p) => p.endsWith(':read'));

describe('role permissions', () => {
  it('the configuration accepts exactly the roles the admin context maps', () => {
    expect([...ADMIN_ROLES]).toEqual([...ADMIN_ROLE_NAMES]);
  });

  it('viewer holds every :read permission and nothing else', () => {
    expect([...ROLE_PERMISSIONS.viewer].sort()).toEqual([...READS].sort());
    expect(READS).toEqual(expect.arrayContaining(['identity:read', 'docs:read', 'audit:read', 'policies:read', 'records:read', 'federations:read', 'bundles:read', 'exports:read', 'syncs:read', 'revocations:read', 'allowlists:read']));
  });

  it.each<[string, AdminPermission[]]>([
    ['operator', ['federations:write', 'syncs:write', 'exports:write', 'records:delete']],
    ['security', ['policies:write', 'revocations:write', 'allowlists:write']],
  ])('%s is viewer plus exactly its writes', (role, writes) => {
    expect([...ROLE_PERMISSIONS[role as 'operator' | 'security']].sort()).toEqual([...READS, ...writes].sort());
  });

  it('admin holds every permission; every write belongs to admin and at most one narrower role', () => {
    expect([...ROLE_PERMISSIONS.admin]).toEqual([...ADMIN_PERMISSIONS]);
    for (const p of ADMIN_PERMISSIONS.filter((x) => !x.endsWith(':read'))) {
      const holders = ADMIN_ROLES.filter((r) => ROLE_PERMISSIONS[r].includes(p));
      expect(holders[holders.length - 1]).toBe('admin');
      expect(holders.length).toBeLessThanOrEqual(2);
    }
  });
});

describe('roleBindingsOf', () => {
  it('neither admin.admins nor admin.roles: the default admin ID of the trust domain is admin', () => {
    expect(roleBindingsOf({}, 'acme.test')).toEqual([{ role: 'admin', spiffeIds: ['spiffe://acme.test/parley/admin'], spiffeIdPrefixes: [], source: 'default' }]);
  });

  it('admin.admins means role admin; admin.roles binds in order; no default once either is set', () => {
    const bindings = roleBindingsOf({ admins: ['spiffe://acme.test/boss'], roles: [{ role: 'viewer', spiffeIdPrefixes: ['spiffe://acme.test/audit'] }] }, 'acme.test');
    expect(bindings.map(describeBinding)).toEqual(['admin: spiffe://acme.test/boss (admin.admins)', 'viewer: spiffe://acme.test/audit/… (prefix) (admin.roles[0])']);
    expect(roleBindingsOf({ roles: [{ role: 'viewer', spiffeIds: ['spiffe://acme.test/v'] }] }, 'acme.test').map((b) => b.source)).toEqual(['admin.roles[0]']);
  });

  it('refuses a role name outside the vocabulary (misuse: the schema refuses it first)', () => {
    expect(() => roleBindingsOf({ roles: [{ role: 'root', spiffeIds: ['spiffe://acme.test/x'] }] }, 'acme.test')).toThrow(TypeError);
  });
});

describe('AdminRoles', () => {
  const roles = AdminRoles.compile(
    roleBindingsOf(
      {
        admins: ['spiffe://acme.test/parley/admin'],
        roles: [
          { role: 'viewer', spiffeIds: ['spiffe://acme.test/ops/viewer'] },
          { role: 'operator', spiffeIdPrefixes: ['spiffe://acme.test/ops/oncall'] },
          { role: 'security', spiffeIds: ['spiffe://acme.test/sec/alice'], spiffeIdPrefixes: ['spiffe://partner.test/sec'] },
          { role: 'viewer', spiffeIds: ['spiffe://acme.test/sec/alice'] },
        ],
      },
      'acme.test',
    ),
  );

  it.each([
    ['spiffe://acme.test/parley/admin', ['admin']],
    ['spiffe://acme.test/ops/viewer', ['viewer']],
    ['spiffe://acme.test/ops/oncall', ['operator']],
    ['spiffe://acme.test/ops/oncall/bob', ['operator']],
    ['spiffe://acme.test/ops/oncallx', []],
    ['spiffe://acme.test/ops', []],
    ['spiffe://acme.test/ops/viewer/sub', []],
    ['spiffe://acme.test/sec/alice', ['viewer', 'security']],
    ['spiffe://partner.test/sec/carol', ['security']],
    ['spiffe://acme.test/sec/carol', []],
    ['spiffe://acme.test.evil/ops/oncall', []],
    ['spiffe://acme.test/parley/admin/x', []],
  ])('%s holds %j (exact IDs, prefixes on / boundaries within their trust domain)', (who, expected) => {
    expect(roles.rolesOf(id(who))).toEqual(expected);
  });

  it('decides by role and names the least privileged granting role', () => {
    expect(roles.decide(id('spiffe://acme.test/ops/viewer'), 'policies:read')).toEqual({ allowed: true, roles: ['viewer'], grantedBy: 'viewer' });
    expect(roles.decide(id('spiffe://acme.test/ops/viewer'), 'policies:write')).toEqual({ allowed: false, roles: ['viewer'] });
    expect(roles.decide(id('spiffe://acme.test/ops/viewer'), 'revocations:write').allowed).toBe(false);
    expect(roles.decide(id('spiffe://acme.test/ops/oncall/bob'), 'federations:write')).toMatchObject({ allowed: true, grantedBy: 'operator' });
    expect(roles.decide(id('spiffe://acme.test/ops/oncall/bob'), 'policies:write').allowed).toBe(false);
    expect(roles.decide(id('spiffe://acme.test/sec/alice'), 'revocations:write')).toMatchObject({ allowed: true, grantedBy: 'security' });
    expect(roles.decide(id('spiffe://acme.test/sec/alice'), 'audit:read')).toMatchObject({ allowed: true, grantedBy: 'viewer' });
    expect(roles.decide(id('spiffe://acme.test/sec/alice'), 'federations:write').allowed).toBe(false);
    expect(roles.decide(id('spiffe://acme.test/nobody'), 'docs:read')).toEqual({ allowed: false, roles: [] });
    expect(roles.decide(id('spiffe://acme.test/parley/admin'), 'syncs:write')).toMatchObject({ allowed: true, grantedBy: 'admin' });
  });

  it('an unknown permission is refused even to admin (fail closed)', () => {
    expect(roles.decide(id('spiffe://acme.test/parley/admin'), 'everything:write' as AdminPermission).allowed).toBe(false);
  });

  it('lists the permissions of all held roles', () => {
    expect(roles.permissionsOf(id('spiffe://acme.test/sec/alice')).sort()).toEqual([...ROLE_PERMISSIONS.security].sort());
    expect(roles.permissionsOf(id('spiffe://acme.test/nobody'))).toEqual([]);
  });

  it('a malformed ID or prefix does not compile', () => {
    expect(() => AdminRoles.compile([{ role: 'viewer', spiffeIds: ['spiffe://acme.test/a//b'], spiffeIdPrefixes: [], source: 't' }])).toThrow();
    expect(() => AdminRoles.compile([{ role: 'viewer', spiffeIds: [], spiffeIdPrefixes: ['spiffe://acme.test/a/'], source: 't' }])).toThrow();
  });

  it('describes held roles for messages', () => {
    expect(describeRoles([])).toBe('no admin role');
    expect(describeRoles(['viewer'])).toBe('role viewer');
    expect(describeRoles(['viewer', 'security'])).toBe('roles viewer, security');
  });
});
