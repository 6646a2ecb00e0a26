import { ValidationError } from '../common';
import { LiveTable, type LiveTableOptions } from '../authz';
import type { SpiffeId } from '../spiffe';
import { ExportSet, exportErrors, type ExportDefinition, type GrantScope } from './domain/export';
import { SYNC_EXPORTS_CHANNEL, type ExportRepository, type StoredExport } from './export.repository';

export interface ExportStoreOptions extends LiveTableOptions {
  repository: ExportRepository;
  ownTrustDomain: string;
}

/**
 * What this gateway exports, as every replica holds it: loaded at start, reloaded on every
 * change (here or on another replica), consulted when a partner asks for a grant. Deny by
 * default: no export, no grant.
 */
export class ExportStore extends LiveTable {
  private exports = new ExportSet([]);

  constructor(private readonly o: ExportStoreOptions) {
    super(o, SYNC_EXPORTS_CHANNEL, 'exports');
  }

  /** The scope exported to `caller` (empty: nothing). */
  scopeFor(caller: SpiffeId): GrantScope {
    return this.exports.scopeFor(caller);
  }

  list(): Promise<StoredExport[]> {
    return this.o.repository.all();
  }

  get(id: string): Promise<StoredExport | undefined> {
    return this.o.repository.get(id);
  }

  /**
   * Creates or replaces an export; this replica enforces it when this resolves.
   * @throws ValidationError with every problem (field paths)
   */
  async put(input: unknown, by: string): Promise<{ stored: StoredExport; created: boolean }> {
    const errors = exportErrors(input, this.o.ownTrustDomain);
    if (errors.length > 0) throw new ValidationError('export: invalid definition', [...errors]);
    const result = await this.o.repository.put(input as ExportDefinition, by);
    await this.reloadAfterWrite();
    return result;
  }

  async remove(id: string): Promise<boolean> {
    const removed = await this.o.repository.remove(id);
    if (removed) await this.reloadAfterWrite();
    return removed;
  }

  protected async load(): Promise<void> {
    const rows = await this.o.repository.all();
    // Rows are validated before they are written; one that no longer validates is left out (fail closed).
    this.exports = new ExportSet(rows.map((r) => r.definition).filter((d) => exportErrors(d, this.o.ownTrustDomain).length === 0));
    this.replaced();
  }
}
