/**
 * One-shot FetchX509Bundles: the X.509 bundles the agent gives this workload (own and
 * federated trust domains), from the first message of the stream. For status commands and
 * diagnostics; the gateway itself follows FetchX509SVID through WorkloadApiSource.
 */
import * as grpc from '@grpc/grpc-js';
import { ParleyError } from '../../common';
import type { BundleSet } from '../../spiffe';
import { resolveWorkloadEndpoint } from './workload-api-client';
import { bundleSetFromX509BundlesResponse } from './x509-response';
import { securityMetadata, workloadApiProto, type X509BundlesResponseMessage } from './workload-proto';

/**
 * @param address `unix:///abs/path` or `tcp://ip:port`; default `$SPIFFE_ENDPOINT_SOCKET`
 * @throws ParleyError `config_invalid` (address), `timeout`, `unavailable` (the call failed),
 *   `invalid_argument` (the response does not parse)
 */
export function fetchX509BundlesOnce(address?: string, timeoutMs = 5000): Promise<BundleSet> {
  const resolved = resolveWorkloadEndpoint(address ?? process.env.SPIFFE_ENDPOINT_SOCKET);
  const { Client } = workloadApiProto();
  const client = new Client(resolved.endpoint.target, grpc.credentials.createInsecure());
  return new Promise<BundleSet>((resolve, reject) => {
    let done = false;
    const finish = (outcome: BundleSet | ParleyError) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      call.cancel();
      client.close();
      if (outcome instanceof ParleyError) reject(outcome);
      else resolve(outcome);
    };
    const call = client.FetchX509Bundles({}, securityMetadata()) as grpc.ClientReadableStream<X509BundlesResponseMessage>;
    const timer = setTimeout(
      () => finish(new ParleyError('timeout', `workload api: no x509 bundles from ${resolved.address} within ${timeoutMs} ms`)),
      timeoutMs,
    );
    call.on('data', (msg: X509BundlesResponseMessage) => {
      try {
        finish(bundleSetFromX509BundlesResponse(msg));
      } catch (err) {
        finish(err instanceof ParleyError ? err : new ParleyError('invalid_argument', 'workload api: x509 bundles response does not parse', { cause: err }));
      }
    });
    call.on('error', () => undefined); // reported through 'status'
    call.on('status', (status: grpc.StatusObject) => {
      const code = (grpc.status[status.code] ?? String(status.code)).toLowerCase();
      const why = status.code === grpc.status.OK ? 'stream ended without a message' : `${code}: ${status.details}`;
      finish(new ParleyError('unavailable', `workload api: fetching x509 bundles from ${resolved.address} failed: ${why}`, { details: { grpcCode: code } }));
    });
  });
}
