import { createHash } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { decodeFile } from '../../../src/grpc/descriptor-index';
import { loadProto } from '../../../src/common/proto-files';
import { requireSpiffeId } from '../../../src/spiffe';
import { ContentId } from '../../../src/store/domain/content-id';
import { spiffeChannelCredentials } from '../../../src/tls/client-credentials';
import { pairOf } from '../../support/tls-clients';
import { GATEWAY_ID, patternBytes, startStoreHarness, TRAINER_ID, type StoreHarness } from './store-harness';

type ReflectionResponse = {
  list_services_response?: { service: Array<{ name: string }> };
  file_descriptor_response?: { file_descriptor_proto: Buffer[] };
};

jest.setTimeout(60_000);

describe('store over mTLS and PostgreSQL: basics', () => {
  let h: StoreHarness;
  beforeAll(async () => {
    h = await startStoreHarness();
  });
  afterAll(() => h?.stop());

  it('pushes, looks up and pulls a record whose CID is CIDv1 raw sha2-256 of the bytes', async () => {
    const client = await h.client();
    const payload = patternBytes(3 * 1024 * 1024 + 123, 7);
    const cid = await client.push({ namespace: 'ml/llama', media_type: 'application/x-safetensors', annotations: { 'org.opencontainers.image.title': 'w' } }, payload, { chunkBytes: 300_000 });
    expect(cid).toBe(ContentId.fromSha256(createHash('sha256').update(payload).digest()).toString());
    expect(cid).toMatch(/^bafkrei[a-z2-7]{52}$/);
    const { records } = await client.lookup([cid]);
    expect(records[0]).toMatchObject({ cid, namespace: 'ml/llama', media_type: 'application/x-safetensors', size: String(payload.length), creator_spiffe_id: TRAINER_ID, creator_trust_domain: 'acme.test' });
    const pulled = await client.pullAll(cid);
    expect(pulled.data.equals(payload)).toBe(true);
    expect(pulled.record.cid).toBe(cid);
  });

  it('answers NOT_FOUND for an unknown CID and INVALID_ARGUMENT for a malformed one', async () => {
    const client = await h.client();
    const unknown = ContentId.of(Buffer.from('never pushed')).toString();
    await expect(client.lookup([unknown])).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
    await expect(client.pullAll(unknown)).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
    await expect(client.lookup(['not-a-cid'])).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
  });

  it('is visible through server reflection with its descriptors (Timestamp dependency included)', async () => {
    const pkg = grpc.loadPackageDefinition(loadProto('grpc/reflection/v1/reflection.proto')) as unknown as {
      grpc: { reflection: { v1: { ServerReflection: grpc.ServiceClientConstructor } } };
    };
    const creds = spiffeChannelCredentials({ svid: pairOf(await h.acme.issueSvid({ id: TRAINER_ID })), trust: h.trust, server: { id: requireSpiffeId(GATEWAY_ID) } });
    const reflection = new pkg.grpc.reflection.v1.ServerReflection(`127.0.0.1:${h.port}`, creds, { 'grpc.ssl_target_name_override': 'parley.test' }) as unknown as grpc.Client & {
      ServerReflectionInfo(): grpc.ClientDuplexStream<object, ReflectionResponse>;
    };
    const replies = await new Promise<ReflectionResponse[]>((resolve, reject) => {
      const call = reflection.ServerReflectionInfo();
      const out: ReflectionResponse[] = [];
      call.on('data', (r: ReflectionResponse) => out.push(r));
      call.on('error', reject);
      call.on('end', () => resolve(out));
      call.write({ list_services: '' });
      call.write({ file_containing_symbol: 'parley.store.v1.StoreService.Push' });
      call.end();
    });
    reflection.close();
    expect(replies[0].list_services_response?.service.map((s) => s.name)).toContain('parley.store.v1.StoreService');
    const files = replies[1].file_descriptor_response!.file_descriptor_proto.map((b) => decodeFile(Buffer.from(b)));
    expect(files[0].services).toEqual(['parley.store.v1.StoreService']);
    expect(files[0].symbols).toEqual(expect.arrayContaining(['parley.store.v1.PushRequest', 'parley.store.v1.StoreService.PullReferrer']));
    expect(files.flatMap((f) => f.symbols)).toContain('google.protobuf.Timestamp');
  });
});
