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
    new Gauge({
      name: 'parley_federation_seconds_since_success',
      help: 'Seconds since the last successful fetch of a partner bundle',
      labelNames: ['trust_domain'],
      registers: [registry],
      collect() {
        this.reset();
        const now = Date.now();
        for (const e of snapshot()) {
          if (e.row?.lastSuccessAt) this.set({ trust_domain: e.trustDomain }, (now - e.row.lastSuccessAt.getTime()) / 1000);
        }
      },
    });
    new Gauge({
      name: 'parley_federation_bundle_sequence',
      help: 'spiffe_sequence of the held partner bundle',
      labelNames: ['trust_domain'],
      registers: [registry],
      collect() {
        this.reset();
        for (const e of snapshot()) {
          if (e.row?.sequence !== undefined) this.set({ trust_domain: e.trustDomain }, Number(e.row.sequence));
        }
      },
    });
    new Gauge({
      name: 'parley_federation_earliest_authority_expiry_seconds',
      help: 'Seconds until the first X.509 authority of the held partner bundle expires (negative when expired)',
      labelNames: ['trust_domain'],
      registers: [registry],
      collect() {
        this.reset();
        const now = Date.now();
        for (const e of snapshot()) {
          const ends = (e.bundle?.x509Authorities ?? []).map((c) => new Date(c.validTo).getTime());
          if (ends.length > 0) this.set({ trust_domain: e.trustDomain }, (Math.min(...ends) - now) / 1000);
        }
      },
    });
  }

  fetched(trustDomain: string, outcome: FetchOutcome): void {
    this.fetches.inc({ trust_domain: trustDomain, result: outcome.ok ? 'ok' : outcome.reason });
  }
}
