import type { IdentityListener, IdentitySnapshot, IdentitySource, IdentitySourceKind } from './domain/identity';

/** Listener bookkeeping shared by the identity sources. */
export abstract class IdentitySourceBase implements IdentitySource {
  abstract readonly kind: IdentitySourceKind;
  private snapshot?: IdentitySnapshot;
  private error?: string;
  private readonly listeners = new Set<IdentityListener>();

  abstract start(): Promise<IdentitySnapshot>;
  abstract stop(): Promise<void>;

  current(): IdentitySnapshot | undefined {
    return this.snapshot;
  }

  lastError(): string | undefined {
    return this.error;
  }

  onUpdate(listener: IdentityListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  protected publish(snapshot: IdentitySnapshot): void {
    this.snapshot = snapshot;
    this.error = undefined;
    for (const l of [...this.listeners]) l(snapshot);
  }

  protected fail(message: string): void {
    this.error = message;
  }
}
