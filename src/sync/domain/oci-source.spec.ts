import { checkOciSource, isLoopbackHost, MASKED, shownOciSource } from './oci-source';

const CA = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const fieldsOf = (input: Parameters<typeof checkOciSource>[0]) => checkOciSource(input).errors.map((e) => e.field);

describe('checkOciSource', () => {
  it('takes an anonymous https source: the origin only, tags deduplicated', () => {
    const { spec, secret, errors } = checkOciSource({ kind: 'oci', url: 'https://Registry.Example:5000/', repository: 'models/llama', tags: ['v1', 'v1', 'v2'] });
    expect(errors).toEqual([]);
    expect(secret).toBeUndefined();
    expect(spec).toEqual({ kind: 'oci', url: 'https://registry.example:5000', repository: 'models/llama', tags: ['v1', 'v2'], auth: 'anonymous', insecure: false });
  });

  it('splits basic and bearer credentials off as the secret', () => {
    const basic = checkOciSource({ url: 'https://r.example', repository: 'm', credentials: { basic: { username: 'reader', password: 's3cret' } } });
    expect(basic.spec).toMatchObject({ auth: 'basic', username: 'reader' });
    expect(JSON.stringify(basic.spec)).not.toContain('s3cret');
    expect(basic.secret).toEqual({ password: 's3cret' });
    const bearer = checkOciSource({ url: 'https://r.example', repository: 'm', credentials: { bearer: { token: 'tok.en' } } });
    expect(bearer.spec).toMatchObject({ auth: 'bearer' });
    expect(bearer.spec?.username).toBeUndefined();
    expect(bearer.secret).toEqual({ token: 'tok.en' });
  });

  it('keeps a CA given as PEM', () => {
    expect(checkOciSource({ url: 'https://r.example', repository: 'm', ca: CA }).spec?.caPem).toBe(CA);
    expect(fieldsOf({ url: 'https://r.example', repository: 'm', ca: 'not pem' })).toEqual(['source.ca']);
  });

  it('allows plain http only on loopback and only when asked for', () => {
    expect(checkOciSource({ url: 'http://127.0.0.1:5000', repository: 'm', insecure: true }).spec).toMatchObject({ url: 'http://127.0.0.1:5000', insecure: true });
    expect(checkOciSource({ url: 'http://localhost:5000', repository: 'm', insecure: true }).errors).toEqual([]);
    expect(checkOciSource({ url: 'http://127.0.0.1:5000', repository: 'm' }).errors).toEqual([{ field: 'source.url', message: expect.stringContaining('source.insecure: true') }]);
    expect(checkOciSource({ url: 'http://registry.example', repository: 'm', insecure: true }).errors).toEqual([{ field: 'source.insecure', message: expect.stringContaining('non-loopback') }]);
    expect(fieldsOf({ url: 'https://r.example', repository: 'm', insecure: true })).toEqual(['source.insecure']);
    expect(fieldsOf({ url: 'http://127.0.0.1:5000', repository: 'm', insecure: true, ca: CA })).toEqual(['source.ca']);
    expect(fieldsOf({ url: 'https://r.example', repository: 'm', insecure: 'yes' })).toEqual(['source.insecure']);
  });

  it('refuses URLs that are not a registry origin, without echoing credentials put in them', () => {
    for (const url of [undefined, '', 'not a url', 'ftp://r.example', 'https://r.example/v2/models', 'https://r.example/?x=1', 'https://r.example/#f']) {
      expect(fieldsOf({ url, repository: 'm' })).toEqual(['source.url']);
    }
    const { errors } = checkOciSource({ url: 'https://reader:hunter2@r.example', repository: 'm' });
    expect(errors).toEqual([{ field: 'source.url', message: expect.stringContaining('must not carry credentials') }]);
    expect(JSON.stringify(errors)).not.toContain('hunter2');
  });

  it('refuses repository names and tags outside the OCI grammar', () => {
    for (const repository of [undefined, '', 'Models', 'a//b', '/a', 'a/', '../etc', 'a'.repeat(256)]) expect(fieldsOf({ url: 'https://r.example', repository })).toEqual(['source.repository']);
    expect(fieldsOf({ url: 'https://r.example', repository: 'm', tags: 'v1' })).toEqual(['source.tags']);
    expect(fieldsOf({ url: 'https://r.example', repository: 'm', tags: ['ok', '-bad', 'x'.repeat(129), 7] })).toEqual(['source.tags[1]', 'source.tags[2]', 'source.tags[3]']);
    expect(fieldsOf({ url: 'https://r.example', repository: 'm', tags: Array.from({ length: 1001 }, (_, i) => `t${i}`) })).toEqual(['source.tags']);
  });

  it('refuses malformed credentials, never echoing a secret', () => {
    const base = { url: 'https://r.example', repository: 'm' };
    expect(fieldsOf({ ...base, credentials: 'reader:pw' })).toEqual(['source.credentials']);
    expect(fieldsOf({ ...base, credentials: { basic: { username: 'a', password: 'b' }, bearer: { token: 't' } } })).toEqual(['source.credentials']);
    expect(fieldsOf({ ...base, credentials: { digest: {} } })).toEqual(['source.credentials']);
    expect(fieldsOf({ ...base, credentials: { basic: { username: 'a:b', password: 'pw' } } })).toEqual(['source.credentials.basic.username']);
    expect(fieldsOf({ ...base, credentials: { basic: { username: 'a\nb', password: 'pw' } } })).toEqual(['source.credentials.basic.username']);
    expect(fieldsOf({ ...base, credentials: { basic: { username: 'a' } } })).toEqual(['source.credentials.basic.password']);
    expect(fieldsOf({ ...base, credentials: { bearer: { token: 'has space' } } })).toEqual(['source.credentials.bearer.token']);
    expect(fieldsOf({ ...base, credentials: { bearer: { token: 'x'.repeat(8193) } } })).toEqual(['source.credentials.bearer.token']);
    const { errors } = checkOciSource({ ...base, credentials: { bearer: { token: 'secret value' } } });
    expect(JSON.stringify(errors)).not.toContain('secret value');
  });

  it("refuses another kind and reports every field's error at once", () => {
    expect(fieldsOf({ kind: 'gateway', url: 'ftp://x', repository: 'BAD', tags: [''] })).toEqual(['source.kind', 'source.url', 'source.repository', 'source.tags[0]']);
    expect(checkOciSource({ kind: 'gateway', url: 'https://r.example', repository: 'm' }).spec).toBeUndefined();
  });
});

describe('shownOciSource', () => {
  it('shows the secret as *** and only whether a CA is set', () => {
    const { spec } = checkOciSource({ url: 'https://r.example', repository: 'm', credentials: { basic: { username: 'reader', password: 's3cret' } }, ca: CA });
    const shown = shownOciSource(spec!);
    expect(shown).toEqual({ kind: 'oci', url: 'https://r.example', repository: 'm', tags: [], auth: 'basic', username: 'reader', secret: MASKED, customCa: true, insecure: false });
    expect(JSON.stringify(shown)).not.toContain('s3cret');
  });

  it('shows no secret field for an anonymous source', () => {
    const { spec } = checkOciSource({ url: 'https://r.example', repository: 'm' });
    expect(shownOciSource(spec!)).not.toHaveProperty('secret');
  });
});

describe('isLoopbackHost', () => {
  it.each([
    ['localhost', true],
    ['LOCALHOST', true],
    ['127.0.0.1', true],
    ['127.10.0.3', true],
    ['[::1]', true],
    ['::1', true],
    ['128.0.0.1', false],
    ['127.0.0.1.example', false],
    ['localhost.example', false],
  ])('%s → %s', (host, loopback) => expect(isLoopbackHost(host)).toBe(loopback));
});
