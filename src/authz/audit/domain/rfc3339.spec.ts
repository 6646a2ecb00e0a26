import { formatMicros, parseRfc3339Micros } from './rfc3339';

describe('RFC 3339', () => {
  it.each([
    ['2025-01-31T12:00:00Z', 1_738_324_800_000_000n],
    ['2025-01-31t12:00:00z', 1_738_324_800_000_000n],
    ['2025-01-31T12:00:00.5Z', 1_738_324_800_500_000n],
    ['2025-01-31T12:00:00.123456789Z', 1_738_324_800_123_456n],
    ['2025-01-31T14:00:00+02:00', 1_738_324_800_000_000n],
    ['2025-01-31T11:30:00-00:30', 1_738_324_800_000_000n],
    ['1970-01-01T00:00:00Z', 0n],
    ['2024-02-29T00:00:00Z', 1_709_164_800_000_000n],
  ])('parses %s', (text, micros) => {
    expect(parseRfc3339Micros(text)).toBe(micros);
  });

  it.each(['', 'yesterday', '2025-01-31', '2025-01-31 12:00:00Z', '2025-01-31T12:00:00', '2025-02-30T00:00:00Z', '2025-13-01T00:00:00Z', '2025-01-31T24:00:00Z', '2025-01-31T12:00:00.Z', '2025-01-31T12:00:00+2:00', '2025-01-31T12:00:00+24:00', '2025-01-31T12:00:00Zjunk', '2023-02-29T00:00:00Z', '0000-01-01T00:00:00Z'])(
    'refuses %j',
    (text) => {
      expect(parseRfc3339Micros(text)).toBeUndefined();
    },
  );

  it('formats with microseconds and round-trips', () => {
    for (const micros of [0n, 1_738_324_800_123_456n, 1n, -1n, 253_402_300_799_999_999n]) {
      const text = formatMicros(micros);
      expect(text).toHaveLength(27);
      expect(parseRfc3339Micros(text)).toBe(micros);
    }
  });
});
