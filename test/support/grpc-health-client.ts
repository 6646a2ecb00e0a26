import * as grpc from '@grpc/grpc-js';
import { HEALTH_PROTO } from '../../src/grpc';
import { loadProto } from '../../src/common';

type CheckClient = grpc.Client & {
  Check(req: { service: string }, options: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: { status: string }) => void): void;
};

/** A grpc.health.v1 client over the given channel credentials. */
export function healthClient(address: string, credentials: grpc.ChannelCredentials): CheckClient {
  const pkg = grpc.loadPackageDefinition(loadProto(HEALTH_PROTO)) as unknown as { grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } } };
  // Servers are dialed by IP and checked by SPIFFE ID; TLS forbids an IP as server name, so send a name.
  return new pkg.grpc.health.v1.Health(address, credentials, { 'grpc.ssl_target_name_override': 'parley.test' }) as unknown as CheckClient;
}

export function check(client: CheckClient, service = ''): Promise<string> {
  return new Promise((resolve, reject) =>
    client.Check({ service }, { deadline: Date.now() + 5000 }, (err, res) => (err ? reject(err) : resolve(res?.status ?? ''))),
  );
}
