/** A certificate chain (leaf first) and its private key, PEM. Key material: never log it. */
export interface PemKeyPair {
  readonly certChainPem: string;
  readonly keyPem: string;
}

/** Where a TLS endpoint gets the SVID it presents, and hears that it changed. */
export interface SvidProvider {
  current(): PemKeyPair | undefined;
  /** Registers a listener for every change; returns the unsubscribe function. */
  onUpdate(listener: () => void): () => void;
}

/** What an identity source (dev CA, files, Workload API) offers an SVID provider. */
export interface SvidSource {
  current(): { readonly svid: { certChainPem(): string; privateKeyPem(): string } } | undefined;
  onUpdate(listener: () => void): () => void;
}

/** Adapts an identity source to an SVID provider. */
export function svidProviderFrom(source: SvidSource): SvidProvider {
  return {
    current() {
      const snapshot = source.current();
      return snapshot === undefined ? undefined : { certChainPem: snapshot.svid.certChainPem(), keyPem: snapshot.svid.privateKeyPem() };
    },
    onUpdate(listener) {
      return source.onUpdate(() => listener());
    },
  };
}

/** An SVID provider whose pair is set by hand: tests, benchmarks and one-shot CLI clients. */
export class FixedSvidProvider implements SvidProvider {
  private pair: PemKeyPair | undefined;
  private readonly listeners = new Set<() => void>();

  constructor(pair?: PemKeyPair) {
    this.pair = pair;
  }

  current(): PemKeyPair | undefined {
    return this.pair;
  }

  set(pair: PemKeyPair): void {
    this.pair = { certChainPem: pair.certChainPem, keyPem: pair.keyPem };
    for (const l of [...this.listeners]) l();
  }

  onUpdate(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
