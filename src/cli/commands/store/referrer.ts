/**
 * `parley referrer push|pull|list|delete`: the documents attached to a record (signatures,
 * attestations, provenance). The store names a document by its record and its own CID, so
 * pull and delete take both.
 */
import { readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import * as grpc from '@grpc/grpc-js';
import type { Command } from 'commander';
import { ParleyError } from '../../../common';
import { ContentId, StoreClient, storeChannelOptions, type WireReferrer } from '../../../store/client';
import { openClientIdentity, type ClientIdentityOptions } from '../../client-identity';
import { collectAnnotation, IDENTITY_HELP, reportStoreFailure, storeCommand, timestampIso } from './common';

const KiB = 1024;
const MiB = 1024 * KiB;
/** The most any gateway accepts (store.maxReferrerBytes is at most 64 MiB; 1 MiB by default). */
const MAX_DOCUMENT_BYTES = 64 * MiB;

const EXAMPLE_ID = '--svid id/svid.pem --key id/svid.key --bundle id/bundle.pem';

/** Like withStoreClient, with a send limit large enough for one whole document. */
async function withReferrerClient(opts: ClientIdentityOptions, fn: (client: StoreClient) => Promise<void>, sendBytes = 0): Promise<void> {
  let conn: Awaited<ReturnType<typeof openClientIdentity>> | undefined;
  let client: StoreClient | undefined;
  try {
    conn = await openClientIdentity(opts);
    const tuning = sendBytes > 0 ? { maxSendMessageBytes: Math.max(16 * MiB, sendBytes + 64 * KiB) } : {};
    client = new StoreClient(conn.address, conn.credentials, { ...storeChannelOptions(tuning), ...conn.channelOptions });
    await fn(client);
  } catch (err) {
    reportStoreFailure(err, conn?.context);
  } finally {
    client?.close();
    await conn?.close().catch(() => undefined);
  }
}

/** A CID argument, canonical base32; the error names the argument. */
function cidArg(command: string, name: string, text: string): string {
  try {
    return ContentId.parse(text, name).toString();
  } catch (err) {
    throw new ParleyError('invalid_argument', `referrer ${command}: ${err instanceof Error ? err.message : `${name}: invalid CID`}`);
  }
}

/** The PullReferrer stream of a record (documents of `type` only when given), oldest first. */
function referrerStream(client: StoreClient, record: string, type: string): grpc.ClientReadableStream<WireReferrer> {
  const raw = client.raw as unknown as { PullReferrer(req: unknown, md: grpc.Metadata, opts: grpc.CallOptions): grpc.ClientReadableStream<WireReferrer> };
  return raw.PullReferrer({ record: { cid: record }, type }, new grpc.Metadata(), {});
}

/** Visits each document; `visit` returns true to stop early (the call is cancelled then). */
async function eachReferrer(client: StoreClient, record: string, type: string, visit: (doc: WireReferrer) => boolean): Promise<void> {
  const stream = referrerStream(client, record, type);
  for await (const doc of stream as AsyncIterable<WireReferrer>) {
    if (visit(doc)) {
      stream.on('error', () => undefined); // the CANCELLED status that follows
      stream.cancel();
      break;
    }
  }
}

function summaryJson(doc: WireReferrer): Record<string, unknown> {
  return {
    cid: doc.cid,
    type: doc.type,
    mediaType: doc.media_type,
    size: doc.data?.length ?? 0,
    annotations: doc.annotations ?? {},
    creatorSpiffeId: doc.creator_spiffe_id,
    createdAt: timestampIso(doc.created_at),
  };
}

async function readDocument(file: string): Promise<Buffer> {
  let size: number;
  try {
    const st = await stat(file);
    if (!st.isFile()) throw new ParleyError('invalid_argument', `referrer push: --file: ${file} is not a regular file`);
    size = st.size;
  } catch (err) {
    if (err instanceof ParleyError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new ParleyError('invalid_argument', `referrer push: --file: cannot read ${file}: ${code === 'ENOENT' ? 'no such file' : (code ?? 'unreadable')}`);
  }
  if (size > MAX_DOCUMENT_BYTES) {
    throw new ParleyError('resource_exhausted', `referrer push: --file: ${file} is ${size} bytes; referrer documents are at most ${MAX_DOCUMENT_BYTES} bytes (the gateway's store.maxReferrerBytes, 1 MiB by default)`);
  }
  return readFile(file);
}

/** Writes `data` to `file` through a temporary name, so `file` never holds a partial document. */
async function writeOutput(file: string, data: Buffer): Promise<void> {
  const partial = `${file}.partial`;
  try {
    await writeFile(partial, data, { mode: 0o644 });
    await rename(partial, file);
  } catch (err) {
    await unlink(partial).catch(() => undefined);
    const code = (err as NodeJS.ErrnoException).code;
    throw new ParleyError('invalid_argument', `referrer pull: -o: cannot write ${file}: ${code ?? 'write failed'}`);
  }
}

function writeStdout(data: Buffer): Promise<void> {
  return new Promise((resolve, reject) => process.stdout.write(data, (err) => (err ? reject(err) : resolve())));
}

/**
 * The bytes of document `wanted` of `record` (among documents of `type` when given),
 * checked against its CID before anything is written.
 */
async function pullDocument(client: StoreClient, record: string, wanted: string, type: string | undefined): Promise<Buffer> {
  let found: WireReferrer | undefined;
  await eachReferrer(client, record, type ?? '', (doc) => {
    if (doc.cid !== wanted) return false;
    found = doc;
    return true;
  });
  if (found === undefined) {
    throw new ParleyError('not_found', `referrer pull: referrer ${wanted} not found on record ${record}${type ? ` (type ${type})` : ''}`);
  }
  const data = found.data ?? Buffer.alloc(0);
  if (ContentId.of(data).toString() !== wanted) throw new ParleyError('internal', `referrer pull: the document received does not match its CID ${wanted}`);
  return data;
}

export function registerReferrer(program: Command): void {
  const referrer = program
    .command('referrer')
    .description('documents attached to records: signatures, attestations, provenance')
    .addHelpText(
      'after',
      `
Examples:
  $ REF=$(parley referrer push bafkreirecord... --type signature --file model.sig ${EXAMPLE_ID})
  $ parley referrer list bafkreirecord... --type signature --json ${EXAMPLE_ID}
  $ parley referrer pull bafkreirecord... $REF -o model.sig ${EXAMPLE_ID}
  $ parley referrer delete bafkreirecord... $REF ${EXAMPLE_ID}`,
    );
  registerPush(referrer);
  registerPull(referrer);
  registerList(referrer);
  registerDelete(referrer);
}

/** `referrer push <record-cid>`: attach a document, print its CID. */
function registerPush(referrer: Command): void {
  storeCommand(referrer, 'push')
    .description('attach a document to a record; prints the CID of the document on stdout')
    .argument('<record-cid>', 'CID of the record')
    .requiredOption('-t, --type <type>', 'what the document is: signature, attestation, provenance, dev.sigstore.bundle.v0.3, ...')
    .requiredOption('-f, --file <file>', 'the document (at most the gateway\'s store.maxReferrerBytes, 1 MiB by default)')
    .option('--media-type <type>', 'media type of the document (default: application/octet-stream)')
    .option('-a, --annotation <key=value>', 'annotation (repeatable)', collectAnnotation)
    .addHelpText(
      'after',
      `
Examples:
  $ parley referrer push bafkreih... --type signature --file model.sig ${EXAMPLE_ID}
  $ parley referrer push bafkreih... -t provenance -f slsa.json --media-type application/json -a builder=ci

Attaching the same bytes to the same record again prints the same CID and stores nothing new.
${IDENTITY_HELP}`,
    )
    .action(async (recordText: string, opts: ClientIdentityOptions & { type: string; file: string; mediaType?: string; annotation?: Record<string, string> }) => {
      let data: Buffer;
      let record: string;
      try {
        record = cidArg('push', 'record-cid', recordText);
        data = await readDocument(opts.file);
      } catch (err) {
        reportStoreFailure(err);
        return;
      }
      await withReferrerClient(
        opts,
        async (client) => {
          const cid = await client.pushReferrer(record, { type: opts.type, media_type: opts.mediaType ?? '', data, annotations: opts.annotation ?? {} });
          process.stdout.write(`${cid}\n`);
        },
        data.length,
      );
    });
}

/** `referrer pull <record-cid> <referrer-cid>`: write one document, checked against its CID. */
function registerPull(referrer: Command): void {
  storeCommand(referrer, 'pull')
    .description('write one document attached to a record (stdout by default)')
    .argument('<record-cid>', 'CID of the record')
    .argument('<referrer-cid>', 'CID of the document, as printed by `referrer push` or `referrer list`')
    .option('-o, --output <file>', 'write the document to this file instead of stdout')
    .option('-t, --type <type>', 'look among documents of this type only (fewer bytes downloaded)')
    .addHelpText(
      'after',
      `
Examples:
  $ parley referrer pull bafkreirecord... bafkreisig... -o model.sig ${EXAMPLE_ID}
  $ parley referrer pull bafkreirecord... bafkreisig... --type signature | cosign verify-blob ...

The document's SHA-256 digest is checked against its CID before anything is written.
${IDENTITY_HELP}`,
    )
    .action(async (recordText: string, cidText: string, opts: ClientIdentityOptions & { output?: string; type?: string }) => {
      let record: string;
      let wanted: string;
      try {
        record = cidArg('pull', 'record-cid', recordText);
        wanted = cidArg('pull', 'referrer-cid', cidText);
      } catch (err) {
        reportStoreFailure(err);
        return;
      }
      await withReferrerClient(opts, async (client) => {
        const data = await pullDocument(client, record, wanted, opts.type);
        if (opts.output !== undefined) await writeOutput(opts.output, data);
        else await writeStdout(data);
      });
    });
}

/** `referrer list <record-cid>`: a record's documents, oldest first. */
function registerList(referrer: Command): void {
  storeCommand(referrer, 'list')
    .description('list the documents attached to a record, oldest first')
    .argument('<record-cid>', 'CID of the record')
    .option('-t, --type <type>', 'documents of this type only')
    .option('--json', 'print a JSON array')
    .addHelpText(
      'after',
      `
Output: one line per document: CID, size in bytes, type, media type.

Examples:
  $ parley referrer list bafkreih... ${EXAMPLE_ID}
  $ parley referrer list bafkreih... --type signature --json
${IDENTITY_HELP}`,
    )
    .action(async (recordText: string, opts: ClientIdentityOptions & { type?: string; json?: boolean }) => {
      let record: string;
      try {
        record = cidArg('list', 'record-cid', recordText);
      } catch (err) {
        reportStoreFailure(err);
        return;
      }
      await withReferrerClient(opts, async (client) => {
        const out: Array<Record<string, unknown>> = [];
        await eachReferrer(client, record, opts.type ?? '', (doc) => {
          if (opts.json) out.push(summaryJson(doc));
          else process.stdout.write(`${doc.cid}  ${String(doc.data?.length ?? 0).padStart(9)}  ${doc.type}  ${doc.media_type}\n`);
          return false;
        });
        if (opts.json) process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
      });
    });
}

/** `referrer delete <record-cid> <referrer-cid>`: detach one document. */
function registerDelete(referrer: Command): void {
  storeCommand(referrer, 'delete')
    .description('detach one document from a record')
    .argument('<record-cid>', 'CID of the record')
    .argument('<referrer-cid>', 'CID of the document')
    .addHelpText('after', `\nExamples:\n  $ parley referrer delete bafkreirecord... bafkreisig... ${EXAMPLE_ID}\n${IDENTITY_HELP}`)
    .action(async (recordText: string, cidText: string, opts: ClientIdentityOptions) => {
      let record: string;
      let cid: string;
      try {
        record = cidArg('delete', 'record-cid', recordText);
        cid = cidArg('delete', 'referrer-cid', cidText);
      } catch (err) {
        reportStoreFailure(err);
        return;
      }
      await withReferrerClient(opts, async (client) => {
        await client.deleteReferrer(record, cid);
        process.stderr.write(`deleted referrer ${cid} of ${record}\n`);
      });
    });
}
