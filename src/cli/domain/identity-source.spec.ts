import { resolveIdentitySource } from './identity-source';

describe('resolveIdentitySource', () => {
  it('--identity DIR names the three files of `parley dev issue`', () => {
    expect(resolveIdentitySource({ identity: '/home/u/.parley/trainer' }, {})).toEqual({
      ok: true,
      source: { kind: 'files', svid: '/home/u/.parley/trainer/svid.pem', key: '/home/u/.parley/trainer/svid.key', bundle: '/home/u/.parley/trainer/bundle.pem', from: '--identity /home/u/.parley/trainer' },
    });
  });

  it('a single file flag overrides that file of the directory (a partner bundle)', () => {
    const r = resolveIdentitySource({ identity: 'id', bundle: 'partner.pem' }, {});
    expect(r).toMatchObject({ ok: true, source: { svid: 'id/svid.pem', key: 'id/svid.key', bundle: 'partner.pem' } });
  });

  it('PARLEY_IDENTITY is used when no flag names an identity, and fills in files the flags leave out', () => {
    expect(resolveIdentitySource({}, { PARLEY_IDENTITY: 'env-id', SPIFFE_ENDPOINT_SOCKET: 'unix:///x' })).toMatchObject({ ok: true, source: { kind: 'files', svid: 'env-id/svid.pem', from: 'PARLEY_IDENTITY=env-id' } });
    expect(resolveIdentitySource({ bundle: 'p.pem' }, { PARLEY_IDENTITY: 'env-id' })).toMatchObject({ ok: true, source: { key: 'env-id/svid.key', bundle: 'p.pem' } });
  });

  it('flags win over the environment: --workload-api over PARLEY_IDENTITY, --identity over SPIFFE_ENDPOINT_SOCKET', () => {
    expect(resolveIdentitySource({ workloadApi: 'unix:///a' }, { PARLEY_IDENTITY: 'env-id' })).toMatchObject({ ok: true, source: { kind: 'workload-api', address: 'unix:///a' } });
    expect(resolveIdentitySource({ identity: 'd' }, { SPIFFE_ENDPOINT_SOCKET: 'unix:///x' })).toMatchObject({ ok: true, source: { kind: 'files' } });
  });

  it('SPIFFE_ENDPOINT_SOCKET alone means the Workload API at that address', () => {
    expect(resolveIdentitySource({}, { SPIFFE_ENDPOINT_SOCKET: 'unix:///x' })).toEqual({ ok: true, source: { kind: 'workload-api', from: 'SPIFFE_ENDPOINT_SOCKET=unix:///x' } });
  });

  it('refuses a directory together with the Workload API, and incomplete file flags, saying what is missing', () => {
    expect(resolveIdentitySource({ identity: 'd', workloadApi: 'unix:///a' }, {})).toMatchObject({ ok: false, message: expect.stringContaining('cannot be combined') });
    expect(resolveIdentitySource({ svid: 's.pem' }, {})).toMatchObject({ ok: false, message: expect.stringContaining('missing --key, --bundle') });
  });

  it('nothing at all: names every way to give an identity', () => {
    const r = resolveIdentitySource({}, { PARLEY_IDENTITY: '', SPIFFE_ENDPOINT_SOCKET: '' });
    expect(r.ok).toBe(false);
    if (!r.ok) for (const way of ['--identity DIR', '--svid', '--workload-api', 'PARLEY_IDENTITY', 'SPIFFE_ENDPOINT_SOCKET']) expect(r.message).toContain(way);
  });
});
