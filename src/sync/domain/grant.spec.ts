import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { certificateThumbprint, GrantError, thumbprintOfFingerprint, signGrant, verifyGrant, type GrantRefusal, type SigningKey } from './grant';
import type { GrantScope } from './export';

const ISSUER = 'spiffe://acme.test/parley/gateway';
const CALLER = 'spiffe://partner.test/parley/gateway';
const NOW = Date.UTC(2026, 11, 3, 12, 0, 0);
const SCOPE: GrantScope = [{ exportId: 'ml-shared', namespaces: ['ml/shared'], actions: ['list', 'pull'] }];
const certificate = randomBytes(400);

function key(kid = 'k1'): SigningKey & { publicKey: ReturnType<typeof generateKeyPairSync>['publicKey'] } {
  const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { kid, privateKey: pair.privateKey, publicKey: pair.publicKey };
}

const k1 = key('k1');
const keys = (kid: string) => (kid === 'k1' ? k1.publicKey : undefined);
const expect_ = { issuer: ISSUER, audience: ISSUER, peerId: CALLER, peerCertificateThumbprint: certificateThumbprint(certificate), nowMs: NOW };

async function issue(ttlMs = 300_000, signer: SigningKey = k1) {
  return signGrant(signer, { issuer: ISSUER, audience: ISSUER, subject: CALLER, certificateThumbprint: certificateThumbprint(certificate), scope: SCOPE, ttlMs, nowMs: NOW });
}

async function refusal(p: () => unknown): Promise<GrantRefusal | string> {
  try {
    p();
    return 'accepted';
  } catch (err) {
    return err instanceof GrantError ? err.refusal : `other: ${String(err)}`;
  }
}

describe('grants', () => {
  it('carry issuer, subject, audience, lifetime, a unique id, the scope and the certificate binding', async () => {
    const { token, claims } = await issue();
    expect(claims).toMatchObject({ iss: ISSUER, sub: CALLER, aud: ISSUER, iat: NOW / 1000, exp: NOW / 1000 + 300, scope: SCOPE, cnf: { 'x5t#S256': certificateThumbprint(certificate) } });
    expect((await issue()).claims.jti).not.toBe(claims.jti);
    expect(verifyGrant(token, keys, expect_)).toEqual(claims);
    // The same token verifies with jose too: a standard compact JWS.
    const { compactVerify } = await import('jose');
    expect(JSON.parse(Buffer.from((await compactVerify(token, k1.publicKey)).payload).toString())).toEqual(claims);
  });

  it('are at most 15 minutes and at least 60 s long, whatever is asked', async () => {
    expect((await issue(3_600_000)).claims.exp - NOW / 1000).toBe(900);
    expect((await issue(1_000)).claims.exp - NOW / 1000).toBe(60);
  });

  it('are refused for another peer, another certificate, after expiry, or from another issuer or audience', async () => {
    const { token } = await issue();
    expect(await refusal(() => verifyGrant(token, keys, { ...expect_, peerId: 'spiffe://partner.test/other' }))).toBe('wrong_subject');
    expect(await refusal(() => verifyGrant(token, keys, { ...expect_, peerCertificateThumbprint: certificateThumbprint(randomBytes(400)) }))).toBe('wrong_certificate');
    expect(await refusal(() => verifyGrant(token, keys, { ...expect_, nowMs: NOW + 305_000 }))).toBe('expired');
    expect(await refusal(() => verifyGrant(token, keys, { ...expect_, nowMs: NOW + 299_000 }))).toBe('accepted');
    expect(await refusal(() => verifyGrant(token, keys, { ...expect_, nowMs: NOW - 60_000 }))).toBe('not_yet_valid');
    expect(await refusal(() => verifyGrant(token, keys, { ...expect_, issuer: 'spiffe://other.test/parley/gateway' }))).toBe('wrong_issuer');
    expect(await refusal(() => verifyGrant(token, keys, { ...expect_, audience: 'spiffe://acme.test/else' }))).toBe('wrong_audience');
  });

  it('are refused when signed by a key we do not hold, or by another key under a held key id', async () => {
    const other = key('k2');
    const foreign = (await issue(300_000, other)).token;
    expect(await refusal(() => verifyGrant(foreign, keys, expect_))).toBe('unknown_key');
    const impostor = { kid: 'k1', privateKey: key().privateKey };
    const forged = (await issue(300_000, impostor)).token;
    expect(await refusal(() => verifyGrant(forged, keys, expect_))).toBe('bad_signature');
  });

  it('are refused when tampered with or malformed', async () => {
    const { token } = await issue();
    const [header, payload, signature] = token.split('.');
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    const widened = Buffer.from(JSON.stringify({ ...claims, scope: [{ exportId: 'x', namespaces: ['secret'], actions: ['pull'] }] })).toString('base64url');
    expect(await refusal(() => verifyGrant(`${header}.${widened}.${signature}`, keys, expect_))).toBe('bad_signature');
    for (const bad of ['', 'a.b.c', 'x'.repeat(20_000), `${header}.${payload}`, `${header}.${payload}.${signature}.x`, `${header}.${payload}.${signature}=`]) {
      expect(await refusal(() => verifyGrant(bad, keys, expect_))).toBe('malformed');
    }
    const none = Buffer.from(JSON.stringify({ alg: 'none', kid: 'k1', typ: 'parley-grant+jwt' })).toString('base64url');
    expect(await refusal(() => verifyGrant(`${none}.${payload}.${signature}`, keys, expect_))).toBe('malformed');
  });

  it('take the thumbprint from a certificate or from its SHA-256 fingerprint alike', () => {
    const fp = createHash('sha256').update(certificate).digest('hex').toUpperCase().match(/../g)!.join(':');
    expect(thumbprintOfFingerprint(fp)).toBe(certificateThumbprint(certificate));
    expect(() => thumbprintOfFingerprint('AA:BB')).toThrow(TypeError);
  });

  it('refuse to sign an empty scope', async () => {
    await expect(signGrant(k1, { issuer: ISSUER, audience: ISSUER, subject: CALLER, certificateThumbprint: certificateThumbprint(certificate), scope: [], ttlMs: 300_000, nowMs: NOW })).rejects.toThrow(TypeError);
  });
});
