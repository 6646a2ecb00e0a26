import { parsePemCertificates, type SpiffeId } from '../../spiffe';
import { renewalTime } from '../domain/ca-rotation';
import type { WorkloadApiProvider } from '../workload-api/workload-api-server';
import type { DevCa } from './dev-ca';
import { createPrivateKey } from 'node:crypto';

type X509State = NonNullable<ReturnType<WorkloadApiProvider['x509']>>;

/**
 * Feeds a Workload API server from the development CA: one SVID for a configured ID,
 * renewed at half-life, with the CA's current bundle. No attestation: for development only.
 */
export class DevCaWorkloadProvider implements WorkloadApiProvider {
  private state?: X509State;
  private timer?: NodeJS.Timeout;
  private readonly listeners = new Set<() => void>();

  constructor(
    private readonly ca: DevCa,
    private readonly id: SpiffeId,
    private readonly ttlMs?: number,
    private readonly onError: (err: unknown) => void = () => undefined,
  ) {}

  async start(): Promise<void> {
    await this.refresh();
  }

  stop(): void {
    clearTimeout(this.timer);
  }

  x509(): X509State | undefined {
    return this.state;
  }

  x509Bundles(): Map<string, Buffer> {
    return new Map([[this.ca.trustDomain.id().toString(), this.bundleDer()]]);
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private bundleDer(): Buffer {
    return Buffer.concat(this.ca.bundle().x509Authorities.map((c) => c.raw));
  }

  private async refresh(): Promise<void> {
    const issued = await this.ca.issue(this.id, this.ttlMs);
    const chain = parsePemCertificates(issued.certPem);
    const key = createPrivateKey(issued.keyPem).export({ format: 'der', type: 'pkcs8' });
    this.state = {
      svids: [{ id: this.id, chainDer: chain.map((c) => c.raw), keyPkcs8Der: key, bundleDer: this.bundleDer() }],
      federatedBundles: new Map(),
    };
    for (const l of [...this.listeners]) l();
    const leaf = chain[0];
    const now = Date.now();
    const at = renewalTime(new Date(leaf.validFrom).getTime(), new Date(leaf.validTo).getTime(), now);
    this.timer = setTimeout(() => {
      this.refresh().catch((err: unknown) => {
        this.onError(err);
        this.timer = setTimeout(() => void this.refresh().catch(this.onError), 5000);
      });
    }, Math.min(Math.max(at - now, 100), 2 ** 31 - 1));
  }
}
