import { createReadStream, statSync } from 'node:fs';
import type { Command } from 'commander';
import { ParleyError } from '../../../common';
import { alreadyStoredNote, requestedMediaType } from '../../domain/push-outcome';
import { TransferInterrupted, watchInterrupts } from '../../interrupt';
import { formatBytes, Progress } from '../../progress';
import { collectAnnotation, IDENTITY_HELP, storeCommand, withStoreClient } from './common';
import type { ClientIdentityOptions } from '../../client-identity';

const MiB = 1024 * 1024;

interface PushOpts extends ClientIdentityOptions {
  namespace: string;
  annotation?: Record<string, string>;
  mediaType?: string;
  quiet?: boolean;
}

/** Yields the file in 1 MiB pieces; reading waits while the consumer (the gRPC call) is busy. */
async function* counted(path: string, progress: Progress): AsyncIterable<Uint8Array> {
  for await (const piece of createReadStream(path, { highWaterMark: MiB }) as AsyncIterable<Buffer>) {
    yield piece;
    progress.add(piece.length);
  }
}

export function registerPush(program: Command): void {
  storeCommand(program, 'push')
    .description('store a file in the gateway; prints its CID on stdout')
    .argument('<file>', 'file to push')
    .requiredOption('-n, --namespace <ns>', 'namespace of the record, e.g. ml/llama-3/weights')
    .option('-a, --annotation <key=value>', 'annotation (repeatable)', collectAnnotation)
    .option('--media-type <type>', 'media type of the payload (default: application/octet-stream)')
    .option('-q, --quiet', 'no progress bar and no summary; only the CID (and what of this push was not applied to a record stored before)')
    .addHelpText(
      'after',
      `
Examples:
  $ parley push model.safetensors --namespace ml/llama-3/weights --svid id/svid.pem --key id/svid.key --bundle id/bundle.pem
  $ parley push config.json -n ml/configs -a org.opencontainers.image.title=config --media-type application/json -q
  $ CID=$(parley push data.bin -n team/data --workload-api unix:///run/spire/agent.sock --quiet)

Records are content-addressed: bytes the gateway has already are not stored again, and the
record keeps the namespace, media type and annotations of its first push. Such a push prints
the CID and "already stored (…)" on stderr, saying what was kept and what of this push was
not applied (that part even with --quiet).

Ctrl-C or SIGTERM stops a push (exit code 130 or 143); the gateway keeps nothing of an
unfinished push, so running the same command sends the whole file again.
${IDENTITY_HELP}`,
    )
    .action(async (file: string, opts: PushOpts) => {
      await withStoreClient(opts, async (client) => {
        let size: number;
        try {
          const st = statSync(file);
          if (!st.isFile()) throw new ParleyError('invalid_argument', `push: ${file} is not a regular file`);
          size = st.size;
        } catch (err) {
          if (err instanceof ParleyError) throw err;
          const code = (err as NodeJS.ErrnoException).code;
          throw new ParleyError('invalid_argument', `push: cannot read ${file}: ${code === 'ENOENT' ? 'no such file' : (code ?? 'unreadable')}`);
        }
        const progress = new Progress({ label: 'push', total: size, quiet: opts.quiet });
        const interrupts = watchInterrupts();
        try {
          const annotations = opts.annotation ?? {};
          const result = await client.pushRecord(
            { namespace: opts.namespace, media_type: opts.mediaType ?? '', annotations, expected_size: String(size) },
            counted(file, progress),
            { signal: interrupts.signal },
          );
          if (result.alreadyStored) {
            progress.clear();
            const requested = { namespace: opts.namespace, mediaType: requestedMediaType(opts.mediaType), annotations };
            const kept = result.record === undefined ? undefined : { namespace: result.record.namespace, mediaType: result.record.media_type, annotations: result.record.annotations ?? {} };
            const note = alreadyStoredNote(requested, kept);
            // What this push asked for and did not get is said even with --quiet.
            if (!opts.quiet || note.notApplied) process.stderr.write(`${note.line}\n`);
          } else progress.finish('pushed');
          process.stdout.write(`${result.cid}\n`);
        } catch (err) {
          progress.clear();
          if (!interrupts.signal.aborted) throw err;
          // The gateway keeps nothing of a push that did not finish (it aborts the upload): a rerun sends everything again.
          const sent = `${formatBytes(progress.bytesDone)} of ${formatBytes(size)}`;
          throw TransferInterrupted.of(interrupts.signal, `push interrupted after ${sent}; the gateway keeps nothing of an unfinished push — run the same command to push again`);
        } finally {
          interrupts.close();
        }
      });
    });
}
