import { readVectorText } from '../../test/support/spiffe-vectors';
import type { BundleRow } from './federation.repository';
import { parseStaticBundle, staticBundleRecord } from './static-bundle';

const TD = 'example.org';
const previousAt = (sequence: bigint | undefined): BundleRow => ({ trustDomain: TD, sequence, consecutiveFailures: 0, polls: 1, skipped: [], refreshRequested: 0, refreshDone: 0 });
const bundle = (sequence?: bigint) => {
  const parsed = parseStaticBundle(TD, readVectorText('goSpiffe__spiffebundle__spiffebundle_valid_1.json'));
  return sequence === undefined ? parsed.withMetadata({ sequence: undefined }) : parsed.withMetadata({ sequence });
};

describe('staticBundleRecord: the sequence of an uploaded bundle', () => {
  it('warns when the uploaded sequence is lower than the held one, and keeps the upload', () => {
    const record = staticBundleRecord(bundle(2n), previousAt(5n), 'replica-a');
    expect(record.sequence).toBe(2n);
    expect(record.warning).toBe('spiffe_sequence decreased from 5 to 2');
  });

  it('does not warn for an equal or higher sequence, or for the first upload', () => {
    expect(staticBundleRecord(bundle(5n), previousAt(5n), 'replica-a').warning).toBeUndefined();
    expect(staticBundleRecord(bundle(6n), previousAt(5n), 'replica-a').warning).toBeUndefined();
    expect(staticBundleRecord(bundle(1n), undefined, 'replica-a').warning).toBeUndefined();
  });

  it('numbers a bundle without a sequence one past the held one', () => {
    const record = staticBundleRecord(bundle(undefined), previousAt(5n), 'replica-a');
    expect(record.sequence).toBe(6n);
    expect(record.warning).toBeUndefined();
  });
});
