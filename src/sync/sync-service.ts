import { ParleyError, ValidationError } from '../common';
import type { TransportLogger } from '../tls';
import { checkSyncRequest, type CheckedSyncRequest, type SyncRequestInput } from './domain/sync-request';
import type { SyncStatus } from './domain/sync-state';
import { readSourceFiles } from './oci-source-files';
import type { SyncRepository, SyncRow } from './sync.repository';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const DEFAULT_SYNC_PAGE = 100;
export const MAX_SYNC_PAGE = 500;

export interface SyncServiceOptions {
  repository: SyncRepository;
  ownTrustDomain: string;
  /** Called after a sync is created (the local worker claims at once). */
  onCreated?(sync: SyncRow): void;
  logger: TransportLogger;
}

/** One page of syncs, newest first; `nextPageToken` is empty on the last page. */
export interface SyncPage {
  syncs: SyncRow[];
  nextPageToken: string;
}

/**
 * The sync jobs as both faces serve them (parley.sync.v1.SyncService and `/v1/syncs`): the
 * one validation of a new sync, ids, paging and deletion, with the same errors. Field names
 * of errors about ids and page tokens are the caller's (`sync_id` on gRPC, `id` on REST).
 * Who may create a sync is the face's decision (the policy's Push on gRPC, an admin permission
 * on REST).
 */
export class SyncService {
  constructor(private readonly o: SyncServiceOptions) {}

  /** @throws ValidationError listing every wrong field */
  check(input: SyncRequestInput): CheckedSyncRequest {
    const { input: read, errors: unread } = readSourceFiles(input);
    if (unread.length > 0) throw new ValidationError('create sync: invalid request', unread);
    const { value, errors } = checkSyncRequest(read, this.o.ownTrustDomain);
    if (value === undefined) throw new ValidationError('create sync: invalid request', [...errors]);
    return value;
  }

  async create(checked: CheckedSyncRequest, createdBy: string): Promise<SyncRow> {
    const { secret, ...shown } = checked;
    const row = await this.o.repository.create({ ...shown, createdBy }, secret);
    this.o.logger.info({ syncId: row.id, partner: row.remoteSpiffeId || `${row.remoteAddress}/${row.source?.repository ?? ''}`, by: row.createdBy }, 'sync created');
    this.o.onCreated?.(row);
    return row;
  }

  /** @throws ParleyError invalid_argument (not a sync id) | not_found */
  async get(id: unknown, field = 'sync_id'): Promise<SyncRow> {
    const checked = syncId(id, field);
    const row = await this.o.repository.get(checked);
    if (row === undefined) throw notFound(checked);
    return row;
  }

  /** `pageSize` 0 or absent: the default; larger than the maximum: the maximum. */
  async list(pageSize: number | undefined, pageToken: string | undefined, field = 'page_token'): Promise<SyncPage> {
    const size = pageSize === undefined || pageSize === 0 ? DEFAULT_SYNC_PAGE : Math.min(MAX_SYNC_PAGE, pageSize);
    const before = pageToken ? parsePageToken(pageToken, field) : undefined;
    const rows = await this.o.repository.list(size + 1, before);
    const page = rows.slice(0, size);
    const last = page.at(-1);
    const next = rows.length > size && last !== undefined ? Buffer.from(JSON.stringify({ c: last.createdAt.toISOString(), i: last.id })).toString('base64url') : '';
    return { syncs: page, nextPageToken: next };
  }

  /**
   * Deletes a sync in any state (a running one stops at the next record boundary; copied
   * records stay). Returns its new status: DELETE_PENDING while a worker holds it, else DELETED.
   * @throws ParleyError invalid_argument | not_found
   */
  async delete(id: unknown, by: string, field = 'sync_id'): Promise<SyncStatus> {
    const checked = syncId(id, field);
    const status = await this.o.repository.requestDelete(checked);
    if (status === undefined) throw notFound(checked);
    this.o.logger.info({ syncId: checked, status, by }, 'sync deleted');
    return status;
  }
}

const notFound = (id: string) => new ParleyError('not_found', `sync ${id} not found`);

function syncId(id: unknown, field: string): string {
  if (typeof id !== 'string' || !UUID.test(id)) throw new ParleyError('invalid_argument', `${field}: must be a sync id (a lowercase UUID)`, { details: { field } });
  return id;
}

function parsePageToken(token: string, field: string): { createdAt: Date; id: string } {
  try {
    const t = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { c: string; i: string };
    const createdAt = new Date(t.c);
    if (!Number.isNaN(createdAt.getTime()) && UUID.test(t.i)) return { createdAt, id: t.i };
  } catch {
    // falls through
  }
  throw new ParleyError('invalid_argument', `${field}: not a token of this listing`, { details: { field } });
}
