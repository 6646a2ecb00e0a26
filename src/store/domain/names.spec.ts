import { storeLimits } from './limits';
import { DEFAULT_MEDIA_TYPE, parseAnnotations, parseMediaType, parseNamespace, parseReferrerType } from './names';
import { parleyCodeOf as codeOf } from '../../../test/support/parley-errors';

const limits = storeLimits({ maxAnnotations: 3, maxAnnotationKeyBytes: 20, maxAnnotationValueBytes: 10, maxAnnotationsTotalBytes: 40 });


describe('namespace syntax', () => {
  it.each(['ml', 'ml/llama-3/weights', 'a.b_c-d/0', `${'a'.repeat(63)}/b`, Array(8).fill('x').join('/')])('accepts %s', (ns) => {
    expect(parseNamespace(ns)).toBe(ns);
  });

  it.each([
    ['empty', ''],
    ['upper case', 'ML'],
    ['leading slash', '/ml'],
    ['trailing slash', 'ml/'],
    ['empty segment', 'ml//x'],
    ['dot segment', 'ml/./x'],
    ['dot-dot segment', 'ml/../x'],
    ['segment starting with a dash', 'ml/-x'],
    ['segment of 64 bytes', 'a'.repeat(64)],
    ['nine segments', Array(9).fill('x').join('/')],
    ['more than 255 bytes', Array(5).fill('a'.repeat(60)).join('/')],
    ['space', 'm l'],
    ['non-ascii', 'mł'],
    ['percent', 'm%2f'],
  ])('refuses %s', (_name, ns) => {
    expect(codeOf(() => parseNamespace(ns))).toBe('invalid_argument');
  });

  it('names the field in the message', () => {
    expect(() => parseNamespace('ML', 'header.namespace')).toThrow(/^header\.namespace: segment "ML" must match/);
  });
});

describe('media type', () => {
  it('defaults to application/octet-stream and lowercases', () => {
    expect(parseMediaType('')).toBe(DEFAULT_MEDIA_TYPE);
    expect(parseMediaType(undefined)).toBe(DEFAULT_MEDIA_TYPE);
    expect(parseMediaType('Application/Vnd.OCI.Image.Manifest.v1+JSON')).toBe('application/vnd.oci.image.manifest.v1+json');
  });

  it.each(['text', 'text/', '/plain', 'text/plain; charset=utf-8', 'text/pl ain', 'a/b/c', `a/${'b'.repeat(300)}`])('refuses %s', (mt) => {
    expect(codeOf(() => parseMediaType(mt))).toBe('invalid_argument');
  });
});

describe('referrer type', () => {
  it.each(['signature', 'dev.sigstore.bundle.v0.3', 'dev.slsa/provenance.v1'])('accepts %s', (t) => expect(parseReferrerType(t)).toBe(t));
  it.each(['', 'Signature', 'sig/', '/sig', 'a//b', 'x'.repeat(129), 'sig nature'])('refuses %j', (t) => {
    expect(codeOf(() => parseReferrerType(t))).toBe('invalid_argument');
  });
});

describe('annotations', () => {
  it('accepts valid maps and returns them sorted and frozen', () => {
    const out = parseAnnotations({ 'org.b': '2', a: '1' }, limits);
    expect(Object.keys(out)).toEqual(['a', 'org.b']);
    expect(Object.isFrozen(out)).toBe(true);
    expect(parseAnnotations(undefined, limits)).toEqual({});
    expect(parseAnnotations({ k: 'ünï' }, limits)).toEqual({ k: 'ünï' });
  });

  it.each([
    ['key syntax', { 'Bad': 'v' }, 'invalid_argument'],
    ['key with //', { 'a//b': 'v' }, 'invalid_argument'],
    ['key ending in a dot', { 'a.': 'v' }, 'invalid_argument'],
    ['NUL in a value', { k: 'a\u0000b' }, 'invalid_argument'],
    ['lone surrogate in a value', { k: 'a\ud800b' }, 'invalid_argument'],
    ['non-string value', { k: 5 }, 'invalid_argument'],
    ['too many', { a: '1', b: '2', c: '3', d: '4' }, 'resource_exhausted'],
    ['key too long', { ['k'.repeat(21)]: 'v' }, 'resource_exhausted'],
    ['value too long (bytes, not characters)', { k: 'é'.repeat(6) }, 'resource_exhausted'],
    ['total too large', { aaaaaaaaaa: '0123456789', bbbbbbbbbb: '0123456789', c: 'x' }, 'resource_exhausted'],
  ])('refuses %s', (_name, value, code) => {
    expect(codeOf(() => parseAnnotations(value, limits))).toBe(code);
  });

  it('refuses arrays and scalars', () => {
    expect(codeOf(() => parseAnnotations(['a'], limits))).toBe('invalid_argument');
    expect(codeOf(() => parseAnnotations('a', limits))).toBe('invalid_argument');
  });
});
