import * as grpc from '@grpc/grpc-js';
import { decodeFile } from '../../../src/grpc/descriptor-index';
import { loadProto } from '../../../src/common/proto-files';
import { TestCa } from '../../support/test-ca';
import { trustStoreOf } from '../../support/tls-clients';
import { credsFor, echoProto, GATEWAY_ID, startServer, type TestServer } from './harness';

jest.setTimeout(30_000);

type Response = {
  list_services_response?: { service: Array<{ name: string }> };
  file_descriptor_response?: { file_descriptor_proto: Buffer[] };
  error_response?: { error_code: number; error_message: string };
};

describe.each(['v1', 'v1alpha'])('server reflection (grpc.reflection.%s)', (version) => {
  let gw: TestServer;
  let client: grpc.Client & { ServerReflectionInfo(): grpc.ClientDuplexStream<object, Response> };

  beforeAll(async () => {
    const acme = await TestCa.create({ trustDomain: 'acme.test' });
    gw = await startServer(trustStoreOf(acme), await acme.issueSvid({ id: GATEWAY_ID }));
    gw.server.addProtos(echoProto());
    const pkg = grpc.loadPackageDefinition(loadProto(`grpc/reflection/${version}/reflection.proto`)) as unknown as {
      grpc: { reflection: Record<string, { ServerReflection: grpc.ServiceClientConstructor }> };
    };
    const Ctor = pkg.grpc.reflection[version].ServerReflection;
    client = new Ctor(`127.0.0.1:${gw.port}`, credsFor(await acme.issueSvid({ id: 'spiffe://acme.test/grpcurl' }), trustStoreOf(acme)), {
      'grpc.ssl_target_name_override': 'parley.test',
    }) as unknown as typeof client;
  });
  afterAll(async () => {
    client?.close();
    await gw?.stop();
  });

  const ask = (requests: object[]): Promise<Response[]> =>
    new Promise((resolve, reject) => {
      const call = client.ServerReflectionInfo();
      const out: Response[] = [];
      call.on('data', (r: Response) => out.push(r));
      call.on('error', reject);
      call.on('end', () => resolve(out));
      for (const r of requests) call.write(r);
      call.end();
    });

  it('lists the services and returns the file descriptor that defines a symbol', async () => {
    const [list, health, method, unknown] = await ask([
      { list_services: '' },
      { file_containing_symbol: 'grpc.health.v1.Health' },
      { file_containing_symbol: 'parley.test.v1.Echo.Chat' },
      { file_containing_symbol: 'no.such.Thing' },
    ]);
    expect(list.list_services_response?.service.map((s) => s.name)).toEqual(
      expect.arrayContaining(['grpc.health.v1.Health', 'grpc.reflection.v1.ServerReflection', 'grpc.reflection.v1alpha.ServerReflection', 'parley.test.v1.Echo']),
    );
    const healthFile = decodeFile(health.file_descriptor_response!.file_descriptor_proto[0]);
    // The protoc-compiled descriptor set: real file names, as grpcurl and grpcio expect.
    expect(healthFile.name).toBe('grpc/health/v1/health.proto');
    expect(healthFile.symbols).toEqual(expect.arrayContaining(['grpc.health.v1.HealthCheckResponse.ServingStatus', 'grpc.health.v1.Health.Watch']));
    expect(decodeFile(method.file_descriptor_response!.file_descriptor_proto[0]).services).toEqual(['parley.test.v1.Echo']);
    expect(unknown.error_response).toMatchObject({ error_code: grpc.status.NOT_FOUND });
  });

  it('finds files by name', async () => {
    const [byName, missing] = await ask([{ file_by_filename: 'grpc/health/v1/health.proto' }, { file_by_filename: 'nope.proto' }]);
    expect(decodeFile(byName.file_descriptor_response!.file_descriptor_proto[0]).services).toEqual(['grpc.health.v1.Health']);
    expect(missing.error_response?.error_code).toBe(grpc.status.NOT_FOUND);
  });
});
