import type { StoreService } from '../store';
import { OciError } from './domain/oci-errors';
import type { Exchange } from './exchange';
import { requireSessionShare, UPLOAD_SESSIONS_PER_SPIFFE_ID } from './registry-admission';
import { MAX_SESSIONS, UploadSessions } from './uploads';

const NAME = 'ml/models';
const ALICE = 'spiffe://acme.test/ml/alice';
const BOB = 'spiffe://acme.test/ml/bob';
const TTL_MS = 60_000;

/** The real upload sessions over a store whose payload area holds nothing (no byte is written here). */
function sessions(): UploadSessions {
  const payloads = { writeTo: 'postgres', begin: async () => ({ id: 'staged', abort: async () => undefined }), discard: async () => undefined };
  const store = { repository: { payloads }, limits: { chunkBytes: 1 << 20, maxRecordBytes: 1 << 24, stagingTtlMs: TTL_MS } };
  return new UploadSessions(store as unknown as StoreService);
}

function startOf(spiffeId: string, refusals: string[]): Exchange {
  const peer = { spiffeId, id: { toString: () => spiffeId }, trustDomain: { name: 'acme.test' } };
  return { peer, call: { refuse: (result: string, reason: string) => refusals.push(`${result}: ${reason}`) } } as unknown as Exchange;
}

const quiet = { warn: () => undefined };

describe('requireSessionShare', () => {
  afterEach(() => jest.restoreAllMocks());

  it('is a quarter of the sessions of a replica', () => {
    expect(UPLOAD_SESSIONS_PER_SPIFFE_ID).toBe(MAX_SESSIONS / 4);
  });

  it('refuses the session past the share of one SPIFFE ID (429, Retry-After, audited), never another ID', async () => {
    const uploads = sessions();
    const refusals: string[] = [];
    for (let i = 0; i < UPLOAD_SESSIONS_PER_SPIFFE_ID; i++) {
      requireSessionShare(uploads, startOf(ALICE, refusals), quiet);
      await uploads.start(NAME, ALICE);
    }
    let refused: unknown;
    try {
      requireSessionShare(uploads, startOf(ALICE, refusals), quiet);
    } catch (err) {
      refused = err;
    }
    expect(refused).toBeInstanceOf(OciError);
    expect(refused).toMatchObject({ code: 'TOOMANYREQUESTS', status: 429, headers: { 'Retry-After': '5' } });
    expect(refusals).toEqual([`concurrency_limit: ${ALICE} has 16 upload sessions open, the most one SPIFFE ID may hold of the 64 of a replica`]);
    expect(() => requireSessionShare(uploads, startOf(BOB, refusals), quiet)).not.toThrow();
  });

  it('counts neither cancelled sessions nor those idle past store.stagingTtl', async () => {
    const uploads = sessions();
    const ids: string[] = [];
    for (let i = 0; i < UPLOAD_SESSIONS_PER_SPIFFE_ID; i++) ids.push(await uploads.start(NAME, ALICE));
    expect(uploads.openBy(ALICE)).toBe(UPLOAD_SESSIONS_PER_SPIFFE_ID);
    await uploads.cancel(ids[0], NAME, ALICE);
    expect(uploads.openBy(ALICE)).toBe(UPLOAD_SESSIONS_PER_SPIFFE_ID - 1);
    const now = Date.now();
    jest.spyOn(Date, 'now').mockReturnValue(now + TTL_MS + 1);
    expect(uploads.openBy(ALICE)).toBe(0);
    expect(() => requireSessionShare(uploads, startOf(ALICE, []), quiet)).not.toThrow();
  });
});
