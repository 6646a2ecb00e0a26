import { DEFAULT_STORE_LIMITS, objectPartsBytes, pushBufferBytes, storeLimits, uploadStagingBytes } from './limits';

describe('store limits', () => {
  it('defaults', () => {
    expect(storeLimits()).toEqual(DEFAULT_STORE_LIMITS);
    expect(DEFAULT_STORE_LIMITS.maxRecordBytes).toBe(8 * 1024 ** 3);
    expect(DEFAULT_STORE_LIMITS.chunkBytes).toBe(1024 ** 2);
  });

  it('refuses misuse with TypeError', () => {
    expect(() => storeLimits({ chunkBytes: 1024 })).toThrow(TypeError);
    expect(() => storeLimits({ maxRecordBytes: 0 })).toThrow(TypeError);
    expect(() => storeLimits({ maxPageSize: 5, defaultPageSize: 10 })).toThrow(TypeError);
    expect(() => storeLimits({ stagingTtlMs: 1000, pushIdleTimeoutMs: 1000 })).toThrow(TypeError);
    expect(() => storeLimits({ maxAnnotations: 1.5 })).toThrow(/maxAnnotations must be a positive integer/);
    expect(() => storeLimits({ uploadBufferBytes: 18 * 1024 ** 2 })).toThrow('storeLimits: uploadBufferBytes must hold one push (2 x the largest message + 3 chunks or the object-store parts)');
    expect(() => storeLimits({ objectPartsBytes: -1 })).toThrow('storeLimits: objectPartsBytes must be a non-negative integer');
    expect(() => storeLimits({ objectPartsBytes: 4 * 8 * 1024 ** 2, uploadBufferBytes: 47 * 1024 ** 2 })).toThrow(/uploadBufferBytes must hold one push/);
  });

  it('a push reserves two messages being received and staged plus three chunks: 19 MiB with the defaults', () => {
    expect(pushBufferBytes(DEFAULT_STORE_LIMITS)).toBe(19 * 1024 ** 2);
    expect(pushBufferBytes({ receiveMessageBytes: 256 * 1024, chunkBytes: 64 * 1024 })).toBe(704 * 1024);
  });

  it('a push into the object store reserves two messages plus its parts in flight and the one filling instead of the chunks', () => {
    const MiB = 1024 ** 2;
    expect(objectPartsBytes({ partBytes: 8 * MiB, partsInFlight: 3 })).toBe(32 * MiB);
    expect(pushBufferBytes({ ...DEFAULT_STORE_LIMITS, objectPartsBytes: 32 * MiB })).toBe(48 * MiB);
    expect(pushBufferBytes({ ...DEFAULT_STORE_LIMITS, objectPartsBytes: 0 })).toBe(19 * MiB);
    expect(storeLimits({ objectPartsBytes: 32 * MiB }).objectPartsBytes).toBe(32 * MiB);
  });

  it('an upload without received messages (a sync import) stages the object-store parts, or three chunks into PostgreSQL', () => {
    const MiB = 1024 ** 2;
    expect(uploadStagingBytes({ ...DEFAULT_STORE_LIMITS, objectPartsBytes: 32 * MiB })).toBe(32 * MiB);
    expect(uploadStagingBytes(DEFAULT_STORE_LIMITS)).toBe(3 * MiB);
    expect(uploadStagingBytes({ chunkBytes: 64 * 1024 })).toBe(192 * 1024);
  });
});
