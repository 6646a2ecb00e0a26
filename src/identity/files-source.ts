import { readFileSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { ParleyError } from '../common';
import { BundleSet, parseX509Svid, X509Bundle, type TrustDomain } from '../spiffe';
import type { IdentitySnapshot } from './domain/identity';
import { IdentitySourceBase } from './identity-source-base';

export interface FilesSourceOptions {
  cert: string;
  key: string;
  bundle: string;
  trustDomain: TrustDomain;
  pollIntervalMs: number;
  onError?: (message: string) => void;
  onReload?: (snapshot: IdentitySnapshot) => void;
}

/**
 * Identity from PEM files written by another agent (spiffe-helper, cert-manager): certificate
 * chain, key and bundle, polled for changes. A new pair is taken only when certificate and key
 * parse and match, so a half-written pair is never served; until then the current one stays.
 */
export class FilesSource extends IdentitySourceBase {
  readonly kind = 'files' as const;
  private timer?: NodeJS.Timeout;
  private lastDigest?: string;

  constructor(private readonly options: FilesSourceOptions) {
    super();
  }

  async start(): Promise<IdentitySnapshot> {
    const snapshot = this.load();
    this.timer = setInterval(() => this.poll(), this.options.pollIntervalMs);
    this.timer.unref();
    return snapshot;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
  }

  private poll(): void {
    try {
      if (this.digest() === this.lastDigest) return;
      const snapshot = this.load();
      this.options.onReload?.(snapshot);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (message !== this.lastError()) this.options.onError?.(message);
      this.fail(message);
    }
  }

  /** Cheap change detection: sizes, mtimes and inode numbers of the three files. */
  private digest(): string {
    const h = createHash('sha256');
    for (const f of [this.options.cert, this.options.key, this.options.bundle]) {
      try {
        const s = statSync(f);
        h.update(`${f}:${s.size}:${s.mtimeMs}:${s.ino};`);
      } catch {
        h.update(`${f}:missing;`);
      }
    }
    return h.digest('hex');
  }

  private load(): IdentitySnapshot {
    const digest = this.digest();
    const read = (path: string, what: string) => {
      try {
        return readFileSync(path);
      } catch (err) {
        throw new ParleyError('unavailable', `identity files: cannot read ${what} ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { cause: err });
      }
    };
    const cert = read(this.options.cert, 'certificate');
    const key = read(this.options.key, 'key');
    const bundleBytes = read(this.options.bundle, 'bundle');
    let svid;
    let bundle;
    try {
      svid = parseX509Svid(cert, key);
      bundle = X509Bundle.parse(this.options.trustDomain, bundleBytes);
    } catch (err) {
      throw new ParleyError('invalid_argument', `identity files: ${err instanceof Error ? err.message : String(err)} (keeping the current SVID)`, { cause: err });
    }
    if (!svid.id.trustDomain.equals(this.options.trustDomain)) {
      throw new ParleyError('invalid_argument', `identity files: the SVID ${svid.id.toString()} is not in trust domain ${this.options.trustDomain.name}`);
    }
    const snapshot: IdentitySnapshot = { svid, trustDomain: this.options.trustDomain, bundles: new BundleSet([bundle]), source: 'files', receivedAt: new Date() };
    this.lastDigest = digest;
    this.publish(snapshot);
    return snapshot;
  }
}
