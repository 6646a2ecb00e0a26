/**
 * Our own bundle as the bundle endpoint serves it. Whenever the own trust domain's bundle
 * in the trust store changes (compared by authorities, not bytes), it is stored with the next
 * sequence number; every replica serves the stored row, re-serialized with the configured
 * refresh hint.
 */
import type { Logger } from 'pino';
import { SpiffeBundle, type TrustDomain } from '../spiffe';
import type { TrustStore } from '../trust';
import type { FederationRepository, OwnBundleRow } from './federation.repository';

export class OwnBundle {
  private current: string | undefined;

  constructor(
    private readonly o: { repository: FederationRepository; trustStore: TrustStore; trustDomain: TrustDomain; refreshHintSeconds: number; logger: Logger },
  ) {}

  /** The JSON document with spiffe_sequence and spiffe_refresh_hint, once known. */
  document(): string | undefined {
    return this.current;
  }

  /** Stores the trust store's own bundle when its authorities differ from the stored one. */
  async publish(): Promise<void> {
    const { trustDomain: own, refreshHintSeconds } = this.o;
    const bundle = this.o.trustStore.get(own);
    if (bundle === undefined) return;
    const row = await this.o.repository.saveOwnBundle(
      own.name,
      (sequence) => bundle.withMetadata({ sequence, refreshHint: refreshHintSeconds }).serialize(),
      (stored) => {
        try {
          return SpiffeBundle.parse(stored, own).equals(bundle);
        } catch {
          return false;
        }
      },
    );
    this.apply(row);
  }

  /** Reads what another replica stored. */
  async reload(): Promise<void> {
    const row = await this.o.repository.findOwnBundle();
    if (row !== undefined) this.apply(row);
  }

  private apply(row: OwnBundleRow): void {
    if (row.trustDomain !== this.o.trustDomain.name) return;
    const bundle = SpiffeBundle.parse(row.document, this.o.trustDomain);
    const document = bundle.withMetadata({ sequence: row.sequence, refreshHint: this.o.refreshHintSeconds }).serialize();
    if (document !== this.current) this.o.logger.info({ sequence: row.sequence.toString(), authorities: bundle.x509Authorities.length }, 'federation: own bundle published');
    this.current = document;
  }
}
