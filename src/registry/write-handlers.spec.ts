import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { StoreService } from '../store';
import { OciError } from './domain/oci-errors';
import type { Exchange } from './exchange';
import { UploadSessions } from './uploads';
import { completeUpload, patchUpload, type WriteDeps } from './write-handlers';

const NAME = 'conformance/repo1';
const OWNER = 'spiffe://parley.local/ns/test/uploader';

/**
 * The real upload sessions over a store whose payload area holds nothing: chunks of 1 MiB, so
 * these small bodies stay in the session's last partial chunk and never reach the store.
 */
function sessions(): UploadSessions {
  const payloads = { writeTo: 'postgres', begin: async () => ({ id: 'staged-1', abort: async () => undefined }), discard: async () => undefined };
  const store = { repository: { payloads }, limits: { chunkBytes: 1 << 20, maxRecordBytes: 1 << 24, stagingTtlMs: 60_000 } };
  return new UploadSessions(store as unknown as StoreService);
}

interface Answer {
  status?: number;
  headers?: Record<string, string>;
}

function exchange(method: string, id: string, body: Buffer, headers: Record<string, string>, query = ''): { x: Exchange; answer: Answer } {
  const req = Object.assign(Readable.from(body.length > 0 ? [body] : []), { method, headers }) as unknown as IncomingMessage;
  const answer: Answer = {};
  const res = {
    writeHead(status: number, h: Record<string, string>) {
      answer.status = status;
      answer.headers = h;
      return this;
    },
    end() {},
  } as unknown as ServerResponse;
  const x = { req, res, peer: { spiffeId: OWNER }, route: { key: 'blob-upload', name: NAME, ref: id }, query: new URLSearchParams(query), call: undefined, bearer: false, name: NAME } as unknown as Exchange;
  return { x, answer };
}

const digestOf = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function codeOf(p: Promise<unknown>): Promise<[string, number] | 'resolved'> {
  try {
    await p;
    return 'resolved';
  } catch (err) {
    return [(err as OciError).code, (err as OciError).status];
  }
}

describe('completeUpload (PUT of an upload, with its last chunk)', () => {
  const first = Buffer.alloc(1024, 1);
  const last = Buffer.alloc(1019, 2);
  const whole = Buffer.concat([first, last]);

  async function openedWithFirstChunk(): Promise<{ deps: WriteDeps; uploads: UploadSessions; id: string }> {
    const uploads = sessions();
    const id = await uploads.start(NAME, OWNER);
    const deps = { uploads, maxManifestBytes: 1 << 20, store: { limits: { pushIdleTimeoutMs: 60_000 } } } as unknown as WriteDeps;
    const patched = exchange('PATCH', id, first, { 'content-range': '0-1023' });
    await patchUpload(deps, patched.x);
    expect(patched.answer).toMatchObject({ status: 202, headers: { Range: '0-1023' } });
    return { deps, uploads, id };
  }

  it('refuses a last chunk whose Content-Range does not start where the upload stands: RANGE_INVALID (416), the upload unchanged', async () => {
    const { deps, uploads, id } = await openedWithFirstChunk();
    const put = exchange('PUT', id, last, { 'content-range': '2048-3066' }, `digest=${encodeURIComponent(digestOf(whole))}`);
    expect(await codeOf(completeUpload(deps, put.x))).toEqual(['RANGE_INVALID', 416]);
    expect(uploads.size(id, NAME, OWNER)).toBe(1024);
  });

  it('refuses a malformed Content-Range before taking any byte', async () => {
    const { deps, uploads, id } = await openedWithFirstChunk();
    const put = exchange('PUT', id, last, { 'content-range': 'bytes=1024-' }, `digest=${encodeURIComponent(digestOf(whole))}`);
    expect(await codeOf(completeUpload(deps, put.x))).toEqual(['RANGE_INVALID', 416]);
    expect(uploads.size(id, NAME, OWNER)).toBe(1024);
  });

  it('takes a last chunk at the right offset (201, the digest of all the bytes)', async () => {
    const { deps, id } = await openedWithFirstChunk();
    const put = exchange('PUT', id, last, { 'content-range': '1024-2042' }, `digest=${encodeURIComponent(digestOf(whole))}`);
    await completeUpload(deps, put.x);
    expect(put.answer).toMatchObject({ status: 201, headers: { 'Docker-Content-Digest': digestOf(whole) } });
  });

  it('takes a last chunk without Content-Range (appended where the upload stands)', async () => {
    const { deps, id } = await openedWithFirstChunk();
    const put = exchange('PUT', id, last, {}, `digest=${encodeURIComponent(digestOf(whole))}`);
    await completeUpload(deps, put.x);
    expect(put.answer).toMatchObject({ status: 201, headers: { 'Docker-Content-Digest': digestOf(whole) } });
  });
});
