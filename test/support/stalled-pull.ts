import type { ClientReadableStream, ServiceError } from '@grpc/grpc-js';
import type { StoreClient } from '../../src/store';

/**
 * Starts a Pull that takes its first message and then reads nothing (it keeps its capacity
 * slot); resolves 'stalled', or with the refusal. The stream goes into `held`, for the test to
 * cancel.
 */
export function stalledPull(client: StoreClient, cid: string, held: Array<ClientReadableStream<unknown>>): Promise<'stalled' | ServiceError> {
  const pull = client.pull(cid);
  held.push(pull);
  return new Promise((resolve) => {
    pull.once('data', () => {
      pull.pause();
      resolve('stalled');
    });
    pull.once('error', (err: ServiceError) => resolve(err));
  });
}
