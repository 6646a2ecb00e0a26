import { entryIdAt, isEntryId, newEntryId } from './entry-id';

describe('audit entry ids (UUIDv7)', () => {
  it('puts the time in the first 48 bits, 7 in the version digit, and keeps the random variant', () => {
    const id = entryIdAt(0x0123_4567_89ab, 'f81d4fae-7dec-41d0-a765-00a0c91e6bf6');
    expect(id).toBe('01234567-89ab-71d0-a765-00a0c91e6bf6');
    expect(isEntryId(id)).toBe(true);
  });

  it('clamps times outside 0..2^48-1 and non-finite ones', () => {
    const random = 'f81d4fae-7dec-41d0-a765-00a0c91e6bf6';
    expect(entryIdAt(-5, random).slice(0, 13)).toBe('00000000-0000');
    expect(entryIdAt(Number.NaN, random).slice(0, 13)).toBe('00000000-0000');
    expect(entryIdAt(2 ** 60, random).slice(0, 13)).toBe('ffffffff-ffff');
  });

  it('sorts by time: ids of later decisions compare greater', () => {
    const ids = [1_700_000_000_000, 1_700_000_000_001, 1_800_000_000_000].map((ms) => newEntryId(ms));
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(Array.from({ length: 1000 }, () => newEntryId(1_700_000_000_000))).size).toBe(1000);
  });

  it.each([
    ['uppercase', '01234567-89AB-71d0-a765-00a0c91e6bf6'],
    ['a wrong variant', '01234567-89ab-71d0-c765-00a0c91e6bf6'],
    ['a missing dash', '0123456789ab-71d0-a765-00a0c91e6bf6x'],
    ['too short', '01234567-89ab-71d0-a765-00a0c91e6bf'],
    ['not hex', '0123456g-89ab-71d0-a765-00a0c91e6bf6'],
    ['not a string', 42],
  ])('refuses %s', (_what, value) => {
    expect(isEntryId(value)).toBe(false);
  });
});
