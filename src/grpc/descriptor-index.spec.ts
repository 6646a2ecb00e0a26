import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as protoLoader from '@grpc/proto-loader';
import { decodeFile, DescriptorIndex } from './descriptor-index';
import { PROTO_LOADER_OPTIONS } from '../common/proto-files';

describe('DescriptorIndex', () => {
  let dir: string;
  let index: DescriptorIndex;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'parley-descriptors-'));
    writeFileSync(
      join(dir, 'a.proto'),
      `syntax = "proto3";
package demo.a.v1;
import "google/protobuf/timestamp.proto";
message Outer { message Inner { enum Kind { K_UNSPECIFIED = 0; } } google.protobuf.Timestamp at = 1; }
enum Top { TOP_UNSPECIFIED = 0; }
service Things { rpc Get(Outer) returns (Outer); rpc Watch(Outer) returns (stream Outer); }
`,
    );
    index = new DescriptorIndex();
    index.add(protoLoader.loadSync('a.proto', { ...PROTO_LOADER_OPTIONS, includeDirs: [dir] }));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('indexes messages (nested too), enums, services and methods by full name', () => {
    for (const symbol of ['demo.a.v1.Outer', 'demo.a.v1.Outer.Inner', 'demo.a.v1.Outer.Inner.Kind', 'demo.a.v1.Top', 'demo.a.v1.Things', 'demo.a.v1.Things.Watch', '.demo.a.v1.Outer']) {
      expect(index.hasSymbol(symbol)).toBe(true);
    }
    expect(index.hasSymbol('demo.a.v1.Out')).toBe(false);
    expect(index.services()).toEqual(['demo.a.v1.Things']);
  });

  it('returns the defining file first, then its transitive dependencies', () => {
    const files = index.fileContainingSymbol('demo.a.v1.Things.Get')!.map(decodeFile);
    expect(files[0].services).toEqual(['demo.a.v1.Things']);
    // protobufjs writes no dependency list; the index declares the file of Timestamp.
    expect(files[0].dependencies).toHaveLength(1);
    expect(files[0].references).toEqual(expect.arrayContaining(['google.protobuf.Timestamp', 'demo.a.v1.Outer']));
    expect(files.map((f) => f.name)).toContain(files[0].dependencies[0]);
    expect(files.slice(1).flatMap((f) => f.symbols)).toContain('google.protobuf.Timestamp');
    expect(index.fileContainingSymbol('nope')).toBeUndefined();
  });

  it('rejects malformed descriptor bytes with an error, not a hang', () => {
    expect(() => decodeFile(Buffer.from([0x0a, 0x05, 0x61]))).toThrow('truncated');
    expect(() => decodeFile(Buffer.from([0x0b]))).toThrow('wire type');
    expect(() => decodeFile(Buffer.from([0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]))).toThrow('varint');
  });
});
