import type { OciSecret } from './domain/oci-source';
import type { RunContext, RunResult } from './sync-run';

/** What a source adapter runs with: a run's context (the same importer, leases and counters), and the source's credential. */
export interface SourceRunContext extends Omit<RunContext, 'session'> {
  readonly secret?: OciSecret;
}

/** A kind of sync source other than a partner gateway (whose runs are the worker's own). */
export interface SyncSourceAdapter {
  readonly kind: 'oci';
  run(ctx: SourceRunContext): Promise<RunResult>;
}

/**
 * The source adapters of this gateway, registered by the contexts that implement them (the
 * registry context brings the OCI registry client), so sync depends on none of them.
 */
export class SyncSources {
  private readonly adapters = new Map<string, SyncSourceAdapter>();

  register(adapter: SyncSourceAdapter): void {
    this.adapters.set(adapter.kind, adapter);
  }

  get(kind: string): SyncSourceAdapter | undefined {
    return this.adapters.get(kind);
  }
}
