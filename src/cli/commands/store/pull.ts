import { createHash, type Hash } from 'node:crypto';
import { constants, createReadStream } from 'node:fs';
import { access, open, rename, stat, unlink } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { ParleyError } from '../../../common';
import { ContentId, type StoreClient, type WireRecord } from '../../../store/client';
import type { ClientIdentityOptions } from '../../client-identity';
import { TransferInterrupted, watchInterrupts } from '../../interrupt';
import { formatBytes, Progress } from '../../progress';
import { IDENTITY_HELP, storeCommand, withStoreClient } from './common';

interface PullOpts extends ClientIdentityOptions {
  output: string;
  quiet?: boolean;
}

function parseCid(text: string): ContentId {
  try {
    return ContentId.parse(text);
  } catch (err) {
    throw new ParleyError('invalid_argument', `pull: ${err instanceof Error ? err.message : 'invalid CID'}`);
  }
}

async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
}

function why(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' ? 'no such directory' : code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code === 'ENOTDIR' ? 'a part of the path is not a directory' : code === 'EROFS' ? 'read-only file system' : (code ?? 'unusable');
}

/**
 * Where a pull writes, checked before anything is transferred: an existing directory gets
 * `<dir>/<cid>`; the parent must be a directory we can create `<file>.partial` in.
 */
export async function pullDestination(output: string, cid: string): Promise<string> {
  const existing = await stat(output).catch(() => undefined);
  const file = existing?.isDirectory() === true ? join(output, cid) : output;
  if ((await stat(file).catch(() => undefined))?.isDirectory() === true) throw new ParleyError('invalid_argument', `pull: -o ${output}: ${file} is a directory`);
  const parent = dirname(resolve(file));
  const dir = await stat(parent).catch((err: unknown) => {
    throw new ParleyError('invalid_argument', `pull: -o ${output}: cannot write in ${parent}: ${why(err)}`);
  });
  if (!dir.isDirectory()) throw new ParleyError('invalid_argument', `pull: -o ${output}: ${parent} is not a directory`);
  try {
    await access(parent, constants.W_OK);
    const had = (await stat(`${file}.partial`).catch(() => undefined)) !== undefined;
    await (await open(`${file}.partial`, 'a', 0o644)).close();
    if (!had) await unlink(`${file}.partial`);
  } catch (err) {
    throw new ParleyError('invalid_argument', `pull: -o ${output}: cannot write ${file}.partial: ${why(err)}`);
  }
  return file;
}

/** Whether a signal handler aborted `signal` (a call, not a property read: TypeScript's narrowing does not see handlers). */
function isAborted(signal: AbortSignal): boolean {
  return signal.aborted;
}

/** Hashes a file; stops early (leaving `hash` incomplete) when `signal` is aborted. */
async function hashFile(path: string, hash: Hash, signal?: AbortSignal): Promise<void> {
  for await (const piece of createReadStream(path) as AsyncIterable<Buffer>) {
    if (signal !== undefined && isAborted(signal)) return;
    hash.update(piece);
  }
}

/** The record's Lookup; a signal while it waits (connecting, say) ends the pull before anything was transferred (a `.partial` of an earlier pull stays). */
async function lookupOrInterrupted(client: StoreClient, cid: string, signal: AbortSignal | undefined) {
  try {
    return await client.lookup([cid], false, signal === undefined ? {} : { signal });
  } catch (err) {
    if (signal !== undefined && isAborted(signal)) throw TransferInterrupted.of(signal, 'pull interrupted before the transfer started; nothing was transferred');
    throw err;
  }
}

/** What an interrupted pull kept, and that the same command continues from there; an empty partial file is removed. */
async function interrupted(signal: AbortSignal, partial: string, kept: number, size: number): Promise<TransferInterrupted> {
  if (kept === 0) {
    await unlink(partial).catch(() => undefined);
    return TransferInterrupted.of(signal, 'pull interrupted before any byte arrived; nothing was kept — run the same command to pull again');
  }
  return TransferInterrupted.of(signal, `pull interrupted; ${formatBytes(kept)} of ${formatBytes(size)} kept in ${partial} — run the same command to resume`);
}

/**
 * Downloads a record into `<output>.partial` (appending from its current size, so an
 * interrupted pull resumes), checks the SHA-256 against the CID, then renames into place.
 * Aborting `signal` stops the transfer cleanly: what arrived stays in the partial file and
 * the pull fails with `TransferInterrupted`.
 */
export async function pullToFile(
  client: StoreClient,
  cidText: string,
  output: string,
  quiet: boolean | undefined,
  log: (line: string) => void,
  signal?: AbortSignal,
): Promise<WireRecord> {
  const cid = parseCid(cidText);
  const destination = await pullDestination(output, cid.toString());
  const [record] = (await lookupOrInterrupted(client, cid.toString(), signal)).records;
  const size = Number(record.size);
  const partial = `${destination}.partial`;
  let offset = await sizeOf(partial);
  if (offset > size) {
    log(`pull: ${partial} is larger than the record (${offset} > ${size} bytes): starting over`);
    await unlink(partial);
    offset = 0;
  }
  const hash = createHash('sha256');
  if (offset > 0) {
    log(`pull: resuming ${partial} from byte ${offset} of ${size}`);
    await hashFile(partial, hash, signal);
  }
  if (signal !== undefined && isAborted(signal)) throw await interrupted(signal, partial, offset, size);
  const progress = new Progress({ label: 'pull', total: size, initial: offset, quiet });
  const fh = await open(partial, 'a', 0o644);
  const stream = client.pull(cid.toString(), { offset });
  const onAbort = () => stream.cancel();
  signal?.addEventListener('abort', onAbort, { once: true });
  let written = offset;
  try {
    for await (const msg of stream as AsyncIterable<{ record?: WireRecord; chunk?: Buffer }>) {
      if (msg.chunk === undefined || msg.chunk.length === 0) continue;
      await fh.write(msg.chunk);
      hash.update(msg.chunk);
      written += msg.chunk.length;
      progress.add(msg.chunk.length);
    }
    await fh.sync();
  } catch (err) {
    if (signal === undefined || !isAborted(signal)) {
      progress.clear();
      throw err;
    }
    await fh.sync();
    // Cancelled after the last byte: the download is whole, so it is verified and kept as usual.
    if (written !== size) {
      progress.clear();
      throw await interrupted(signal, partial, written, size);
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
    await fh.close();
  }
  if (written !== size) {
    progress.clear();
    throw new ParleyError('unavailable', `pull: the stream ended after ${written} of ${size} bytes; run the same command again to resume`);
  }
  const digest = hash.digest();
  if (!digest.equals(cid.digest)) {
    progress.clear();
    await unlink(partial).catch(() => undefined);
    throw new ParleyError('invalid_argument', `pull: digest mismatch: ${partial} has sha256:${digest.toString('hex')}, the CID names ${cid.sha256Hex}; the partial file was deleted`);
  }
  await rename(partial, destination);
  progress.finish('pulled');
  return record;
}

export function registerPull(program: Command): void {
  storeCommand(program, 'pull')
    .description('download a record to a file; resumes an interrupted download and verifies the digest')
    .argument('<cid>', 'CID of the record')
    .requiredOption('-o, --output <file>', 'file to write (an existing directory: <dir>/<cid>); downloads go to <file>.partial until verified, checked writable before the transfer')
    .option('-q, --quiet', 'no progress bar and no summary')
    .addHelpText(
      'after',
      `
Examples:
  $ parley pull bafkreih... -o model.safetensors --svid id/svid.pem --key id/svid.key --bundle id/bundle.pem
  $ parley pull bafkreih... -o model.safetensors --workload-api unix:///run/spire/agent.sock -q

An interrupted pull (Ctrl-C, SIGTERM, a lost connection) leaves <file>.partial; running the same
command again continues from its size. Ctrl-C or SIGTERM says how much was kept and exits with
130 or 143. The SHA-256 digest of the whole file is checked against the CID before <file> appears;
on a mismatch the partial file is deleted and the command fails.
${IDENTITY_HELP}`,
    )
    .action(async (cid: string, opts: PullOpts) => {
      await withStoreClient(opts, async (client) => {
        const interrupts = watchInterrupts();
        try {
          const log = (line: string) => {
            if (!opts.quiet) process.stderr.write(`${line}\n`);
          };
          await pullToFile(client, cid, opts.output, opts.quiet, log, interrupts.signal);
        } finally {
          interrupts.close();
        }
      });
    });
}
