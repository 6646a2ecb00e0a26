import type { BundleSet, TrustDomain, X509Svid } from '../../spiffe';

/** Where the gateway's own X509-SVID comes from. */
export type IdentitySourceKind = 'dev-ca' | 'files' | 'workload-api';

/**
 * What every identity source emits: the current SVID and the bundles that came with it —
 * the own trust domain's bundle, plus federated bundles when the source provides them
 * (the Workload API does). Bundles stay keyed by trust domain; nothing is merged.
 */
export interface IdentitySnapshot {
  readonly svid: X509Svid;
  readonly trustDomain: TrustDomain;
  readonly bundles: BundleSet;
  readonly source: IdentitySourceKind;
  readonly receivedAt: Date;
}

export type IdentityListener = (snapshot: IdentitySnapshot) => void;

/**
 * An identity source. `start()` resolves once the first snapshot is available (or rejects
 * with a ParleyError saying why not); afterwards the source keeps the current snapshot
 * fresh on its own (rotation, file changes, stream updates) until `stop()`. A failure after
 * start never drops the current snapshot: the gateway keeps serving on it until it expires.
 */
export abstract class IdentitySource {
  abstract readonly kind: IdentitySourceKind;
  abstract start(): Promise<IdentitySnapshot>;
  abstract current(): IdentitySnapshot | undefined;
  /** Registers a listener for every new snapshot; returns the unsubscribe function. */
  abstract onUpdate(listener: IdentityListener): () => void;
  /** Last error since the last good snapshot, for status and readiness. */
  abstract lastError(): string | undefined;
  abstract stop(): Promise<void>;
}
