/** Prometheus metrics of federation; gauges are computed from what the replica holds at scrape time. */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { SpiffeBundle } from '../spiffe';
import type { FetchOutcome } from './bundle-fetcher';
import type { BundleRow } from './federation.repository';

export interface FederationSnapshotEntry {
  readonly trustDomain: string;
  readonly row?: BundleRow;
  /** The bundle trusted for the partner (after the deny list). */
  readonly bundle?: SpiffeBundle;
}

export class FederationMetrics {
  private readonly fetches: Counter<'trust_domain' | 'result'>;

  constructor(registry: Registry, snapshot: () => readonly FederationSnapshotEntry[]) {
    this.fetches = new Counter({
      name: 'parley_federation_fetches_total',
      help: 'Partner bundle fetches by this replica, by result (ok or the failure reason)',
      labelNames: ['trust_domain', 'result'],
      registers: [registry],
    });
    const perPartner = (name: string, help: string, value: (e: FederationSnapshotEntry, now: number) => number | undefined): void => {
      new Gauge({
        name,
        help,
        labelNames: ['trust_domain'],
        registers: [registry],
        collect() {
          this.reset();
          const now = Date.now();
          for (const e of snapshot()) {
            const v = value(e, now);
            if (v !== undefined) this.set({ trust_domain: e.trustDomain }, v);
          }
        },
      });
    };
    perPartner('parley_federation_seconds_since_success', 'Seconds since the last successful fetch of a partner bundle', (e, now) =>
      e.row?.lastSuccessAt ? (now - e.row.lastSuccessAt.getTime()) / 1000 : undefined,
    );
    perPartner('parley_federation_bundle_sequence', 'spiffe_sequence of the held partner bundle', (e) => (e.row?.sequence !== undefined ? Number(e.row.sequence) : undefined));
    perPartner('parley_federation_earliest_authority_expiry_seconds', 'Seconds until the first X.509 authority of the held partner bundle expires (negative when expired)', (e, now) => {
      const ends = (e.bundle?.x509Authorities ?? []).map((c) => new Date(c.validTo).getTime());
      return ends.length > 0 ? (Math.min(...ends) - now) / 1000 : undefined;
    });
  }

  fetched(trustDomain: string, outcome: FetchOutcome): void {
    this.fetches.inc({ trust_domain: trustDomain, result: outcome.ok ? 'ok' : outcome.reason });
  }
}
