import { Gauge, type Registry } from 'prom-client';
import type { Logger } from 'pino';
import type { CheckResult } from '../ops';
import type { TrustStore } from '../trust';
import type { IdentitySnapshot, IdentitySource } from './domain/identity';

/**
 * Connects an identity source to the rest of the gateway: feeds the own trust domain's
 * bundle (and the source's federated bundles) into the trust store, answers readiness,
 * exports seconds-until-expiry, and warns when expiry nears while renewal keeps failing.
 */
export class IdentityMonitor {
  private readonly unsubscribe: () => void;
  private readonly timer: NodeJS.Timeout;
  private warnedFor?: string;
  /** Trust domains whose bundles came from the identity source (removed when it stops sending them). */
  private fromSource = new Set<string>();

  constructor(
    private readonly source: IdentitySource,
    private readonly trustStore: TrustStore,
    private readonly options: { expiryWarningMs: number; logger: Logger; metrics: Registry },
  ) {
    const current = source.current();
    if (current) this.apply(current);
    this.unsubscribe = source.onUpdate((s) => this.apply(s));
    const src = source;
    new Gauge({
      name: 'parley_svid_expiry_seconds',
      help: 'Seconds until the gateway X509-SVID expires (negative when expired)',
      registers: [options.metrics],
      collect() {
        const s = src.current();
        if (s) this.set((s.svid.notAfter.getTime() - Date.now()) / 1000);
      },
    });
    this.timer = setInterval(() => this.checkExpiry(), 15_000);
    this.timer.unref();
  }

  readiness(): CheckResult {
    const s = this.source.current();
    if (!s) return { ok: false, reason: `no X509-SVID yet from ${this.source.kind}${this.source.lastError() ? `: ${this.source.lastError()}` : ''}` };
    const left = s.svid.notAfter.getTime() - Date.now();
    if (left <= 0) return { ok: false, reason: `X509-SVID ${s.svid.id.toString()} expired at ${s.svid.notAfter.toISOString()}` };
    return { ok: true, reason: `${s.svid.id.toString()} valid until ${s.svid.notAfter.toISOString()}` };
  }

  stop(): void {
    this.unsubscribe();
    clearInterval(this.timer);
  }

  private apply(s: IdentitySnapshot): void {
    const seen = new Set<string>();
    for (const td of s.bundles.trustDomains()) {
      const bundle = s.bundles.get(td);
      if (!bundle) continue;
      this.trustStore.set(bundle);
      seen.add(td.name);
    }
    for (const td of this.trustStore.trustDomains()) {
      if (this.fromSource.has(td.name) && !seen.has(td.name)) this.trustStore.remove(td);
    }
    this.fromSource = seen;
    this.options.logger.info({ id: s.svid.id.toString(), serial: s.svid.leaf.serialNumber, notAfter: s.svid.notAfter.toISOString(), source: s.source }, 'gateway X509-SVID updated');
  }

  private checkExpiry(): void {
    const s = this.source.current();
    const error = this.source.lastError();
    if (!s || !error) return;
    const left = s.svid.notAfter.getTime() - Date.now();
    if (left < this.options.expiryWarningMs && this.warnedFor !== s.svid.leaf.serialNumber) {
      this.warnedFor = s.svid.leaf.serialNumber;
      this.options.logger.warn({ id: s.svid.id.toString(), expiresInSeconds: Math.round(left / 1000), lastError: error }, 'X509-SVID expires soon and renewal is failing');
    }
  }
}
