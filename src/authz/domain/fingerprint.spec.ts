import { createHash } from 'node:crypto';
import { canonicalFingerprint, parseFingerprint } from './fingerprint';

const hex = createHash('sha256').update('leaf').digest('hex');
const colons = (h: string) => h.toUpperCase().match(/../g)!.join(':');

describe('certificate fingerprints', () => {
  it.each([
    ['lowercase hex', hex],
    ['uppercase hex', hex.toUpperCase()],
    ['colon pairs as Node prints them', colons(hex)],
    ['colon pairs, lowercase', colons(hex).toLowerCase()],
  ])('accepts %s', (_what, text) => {
    expect(parseFingerprint(text)).toEqual({ value: hex });
    expect(canonicalFingerprint(text)).toBe(hex);
  });

  it.each([
    ['too short (31 bytes)', hex.slice(2)],
    ['too long', `${hex}00`],
    ['a non-hex digit', `g${hex.slice(1)}`],
    ['a misplaced colon', `${colons(hex).slice(0, 2)}${colons(hex).slice(3, 5)}::${colons(hex).slice(6)}`],
    ['spaces instead of colons', colons(hex).replace(/:/g, ' ')],
    ['a SHA-1 fingerprint', createHash('sha1').update('leaf').digest('hex')],
    ['empty', ''],
  ])('refuses %s', (_what, text) => {
    expect(parseFingerprint(text)).toEqual({ error: expect.any(String) });
    expect(canonicalFingerprint(text)).toBeUndefined();
  });

  it('refuses non-strings', () => {
    expect(parseFingerprint(42)).toEqual({ error: 'must be a string' });
    expect(parseFingerprint(undefined)).toEqual({ error: 'must be a string' });
  });
});
