import { BundleSet, parseX509Svid, type SpiffeId } from '../../spiffe';
import type { IdentitySnapshot } from '../domain/identity';
import { renewalTime } from '../domain/ca-rotation';
import { IdentitySourceBase } from '../identity-source-base';
import type { DevCa } from './dev-ca';

export interface DevCaSourceOptions {
  ca: DevCa;
  spiffeId: SpiffeId;
  /** DNS SANs of the gateway's SVID (identity.devCa.dnsNames). */
  dnsNames?: readonly string[];
  /** Retry delay after a failed renewal. */
  retryMs?: number;
  onError?: (err: unknown) => void;
}

/** Identity from the development CA: an SVID for the gateway, renewed at half-life; CA rotation applied on schedule. */
export class DevCaSource extends IdentitySourceBase {
  readonly kind = 'dev-ca' as const;
  private timer?: NodeJS.Timeout;
  private stopped = false;

  constructor(private readonly options: DevCaSourceOptions) {
    super();
  }

  async start(): Promise<IdentitySnapshot> {
    this.stopped = false;
    return this.renew();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** Issues a fresh SVID now (also used after a CA rotation step). */
  async renew(): Promise<IdentitySnapshot> {
    const { ca, spiffeId } = this.options;
    const issued = await ca.issue(spiffeId, undefined, this.options.dnsNames);
    const svid = parseX509Svid(issued.certPem, issued.keyPem);
    const snapshot: IdentitySnapshot = { svid, trustDomain: ca.trustDomain, bundles: new BundleSet([ca.bundle()]), source: 'dev-ca', receivedAt: new Date() };
    this.publish(snapshot);
    this.schedule(svid.certificates[0] ? new Date(svid.certificates[0].validFrom).getTime() : Date.now(), svid.notAfter.getTime());
    return snapshot;
  }

  private schedule(notBefore: number, notAfter: number): void {
    clearTimeout(this.timer);
    if (this.stopped) return;
    // Wake at SVID half-life, or at the next CA rotation step when that comes first.
    const now = Date.now();
    const delay = Math.min(renewalTime(notBefore, notAfter, now), this.options.ca.nextRotationAt()) - now;
    this.timer = setTimeout(() => void this.tick(), Math.min(Math.max(delay, 100), 2 ** 31 - 1));
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.renew();
    } catch (err) {
      this.fail(`dev ca: renewal failed: ${err instanceof Error ? err.message : String(err)}`);
      this.options.onError?.(err);
      clearTimeout(this.timer);
      this.timer = setTimeout(() => void this.tick(), this.options.retryMs ?? 5000);
      this.timer.unref();
    }
  }
}
