import { DescriptorIndex } from './descriptor-index';
import { loadDescriptorSet, loadProto } from '../common/proto-files';

/**
 * The committed FileDescriptorSet (proto/descriptor-set.binpb, protoc output) must define
 * every message, enum, service and method proto-loader reads from the served .proto files:
 * a proto edited without `test/interop/gen-descriptors.sh` fails here. The interop tier
 * also recompiles the set with protoc and compares it byte for byte.
 */
describe('proto/descriptor-set.binpb', () => {
  const index = new DescriptorIndex();
  index.addFileDescriptorSet(loadDescriptorSet());

  it.each(['parley/store/v1/store.proto', 'parley/sync/v1/sync.proto', 'grpc/health/v1/health.proto', 'grpc/reflection/v1/reflection.proto', 'grpc/reflection/v1alpha/reflection.proto'])('defines everything %s defines', (file) => {
    const definition = loadProto(file);
    const missing: string[] = [];
    for (const [name, value] of Object.entries(definition)) {
      if (!index.hasSymbol(name)) missing.push(name);
      if (!('format' in value)) for (const method of Object.keys(value)) if (!index.hasSymbol(`${name}.${method}`)) missing.push(`${name}.${method}`);
    }
    expect(missing).toEqual([]);
  });

  it('serves files under their real names with their imports declared', () => {
    expect(index.fileByName('parley/store/v1/store.proto')).toBeDefined();
    expect(index.fileByName('google/protobuf/timestamp.proto')).toBeDefined();
    expect(index.fileContainingSymbol('parley.store.v1.PushHeader.AnnotationsEntry')).toBeDefined();
  });
});
