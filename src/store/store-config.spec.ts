import { configSchema } from '../config';
import { pushBufferBytes } from './domain/limits';
import { storeLimitsFromConfig } from './store-config';

const MiB = 1024 * 1024;

describe('storeLimitsFromConfig', () => {
  it('with payloads in PostgreSQL a push reserves two messages and three chunks', () => {
    const config = configSchema.parse({});
    const limits = storeLimitsFromConfig(config.store, config.grpc);
    expect(limits.objectPartsBytes).toBe(0);
    expect(pushBufferBytes(limits)).toBe(19 * MiB);
  });

  it('with payloads in the object store a push reserves two messages and (partsInFlight + 1) parts', () => {
    const config = configSchema.parse({ store: { payloads: 's3', s3: { bucket: 'parley-test' } } });
    expect(pushBufferBytes(storeLimitsFromConfig(config.store, config.grpc))).toBe(16 * MiB + 4 * 8 * MiB);
    const wider = configSchema.parse({ store: { payloads: 's3', s3: { bucket: 'parley-test', partBytes: 5 * MiB, partsInFlight: 6 } } });
    expect(storeLimitsFromConfig(wider.store, wider.grpc).objectPartsBytes).toBe(7 * 5 * MiB);
  });

  it('store.s3 configured for reads only (payloads postgres) reserves no parts', () => {
    const config = configSchema.parse({ store: { payloads: 'postgres', s3: { bucket: 'parley-test' } } });
    expect(storeLimitsFromConfig(config.store, config.grpc).objectPartsBytes).toBe(0);
  });
});
