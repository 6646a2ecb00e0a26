import type { PackageDefinition } from '@grpc/proto-loader';

/** What reflection needs to know about one .proto file. */
export interface FileEntry {
  readonly name: string;
  /** The `dependency` list as encoded (protobufjs leaves it empty). */
  readonly dependencies: readonly string[];
  /** Fully qualified types used by fields and methods (without the leading dot). */
  readonly references: readonly string[];
  /** Fully qualified names defined here: messages (nested too), enums, services, methods. */
  readonly symbols: readonly string[];
  readonly services: readonly string[];
  /** The serialized google.protobuf.FileDescriptorProto. */
  readonly bytes: Buffer;
}

/**
 * Index of the file descriptors proto-loader attaches to every type of a package definition
 * (`fileDescriptorProtos`), by file name and by symbol. Decodes just the FileDescriptorProto
 * fields reflection needs with a minimal protobuf wire reader.
 *
 * protobufjs writes one descriptor per package and no `dependency` list, so a client could
 * not resolve a field of a type from another file. The index works the dependencies out
 * from the types each file references and appends them (field 3) to the served bytes.
 */
export class DescriptorIndex {
  private readonly files = new Map<string, FileEntry>();
  private readonly bySymbol = new Map<string, FileEntry>();
  private readonly resolved = new Map<string, { bytes: Buffer; dependencies: FileEntry[] }>();

  /**
   * Adds the files of a serialized google.protobuf.FileDescriptorSet (as `protoc
   * --include_imports --descriptor_set_out` writes it): real file names, declared imports,
   * `XEntry` map entries and proto3 optional fields, served as they are.
   */
  addFileDescriptorSet(set: Uint8Array): void {
    for (const f of fields(set)) if (f.no === 1 && f.bytes !== undefined) this.addFile(decodeFile(Buffer.from(f.bytes)));
    this.resolved.clear();
  }

  /**
   * Adds the protobufjs descriptors of a package definition, except files whose symbols are
   * all defined already (a compiled descriptor set of the same .proto wins over protobufjs's
   * synthesized one, which names files after packages and has no map entry types).
   */
  add(definition: PackageDefinition): void {
    for (const value of Object.values(definition)) {
      for (const bytes of descriptorBuffers(value)) {
        const entry = decodeFile(bytes);
        if (entry.symbols.length > 0 && entry.symbols.every((s) => this.bySymbol.has(s))) continue;
        this.addFile(entry);
      }
    }
    this.resolved.clear();
  }

  private addFile(entry: FileEntry): void {
    if (this.files.has(entry.name)) return;
    this.files.set(entry.name, entry);
    for (const symbol of entry.symbols) if (!this.bySymbol.has(symbol)) this.bySymbol.set(symbol, entry);
  }

  services(): string[] {
    return [...this.files.values()].flatMap((f) => f.services).sort();
  }

  hasSymbol(symbol: string): boolean {
    return this.bySymbol.has(stripDot(symbol));
  }

  /** The file defining `symbol` followed by its transitive dependencies; undefined when unknown. */
  fileContainingSymbol(symbol: string): Buffer[] | undefined {
    const entry = this.bySymbol.get(stripDot(symbol));
    return entry === undefined ? undefined : this.withDependencies(entry);
  }

  fileByName(name: string): Buffer[] | undefined {
    const entry = this.files.get(name);
    return entry === undefined ? undefined : this.withDependencies(entry);
  }

  private withDependencies(first: FileEntry): Buffer[] {
    const out: Buffer[] = [];
    const seen = new Set<string>();
    const queue = [first];
    while (queue.length > 0) {
      const entry = queue.shift() as FileEntry;
      if (seen.has(entry.name)) continue;
      seen.add(entry.name);
      const { bytes, dependencies } = this.resolve(entry);
      out.push(bytes);
      queue.push(...dependencies);
    }
    return out;
  }

  /** The files `entry` needs (declared or referenced), and its bytes with all of them declared. */
  private resolve(entry: FileEntry): { bytes: Buffer; dependencies: FileEntry[] } {
    const cached = this.resolved.get(entry.name);
    if (cached !== undefined) return cached;
    const names = new Set(entry.dependencies);
    for (const ref of entry.references) {
      const owner = this.bySymbol.get(ref);
      if (owner !== undefined && owner !== entry) names.add(owner.name);
    }
    const missing = [...names].filter((n) => !entry.dependencies.includes(n));
    const bytes = missing.length === 0 ? entry.bytes : Buffer.concat([entry.bytes, ...missing.map((n) => stringField(3, n))]);
    const dependencies = [...names].map((n) => this.files.get(n)).filter((f): f is FileEntry => f !== undefined);
    const result = { bytes, dependencies };
    this.resolved.set(entry.name, result);
    return result;
  }
}

/** A length-delimited string field, encoded. */
function stringField(no: number, value: string): Buffer {
  const body = Buffer.from(value, 'utf8');
  return Buffer.concat([varintBytes(no * 8 + 2), varintBytes(body.length), body]);
}

function varintBytes(n: number): Buffer {
  const out: number[] = [];
  let v = n;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return Buffer.from(out);
}

function stripDot(symbol: string): string {
  return symbol.startsWith('.') ? symbol.slice(1) : symbol;
}

/** `fileDescriptorProtos` of a message/enum definition, or of a service's first method types. */
function descriptorBuffers(value: unknown): Buffer[] {
  if (value === null || typeof value !== 'object') return [];
  const direct = (value as { fileDescriptorProtos?: unknown }).fileDescriptorProtos;
  if (Array.isArray(direct)) return direct.filter(Buffer.isBuffer);
  const out: Buffer[] = [];
  for (const method of Object.values(value as Record<string, unknown>)) {
    const m = method as { requestType?: { fileDescriptorProtos?: unknown }; responseType?: { fileDescriptorProtos?: unknown } };
    for (const t of [m?.requestType, m?.responseType]) {
      if (Array.isArray(t?.fileDescriptorProtos)) out.push(...t.fileDescriptorProtos.filter(Buffer.isBuffer));
    }
  }
  return out;
}

type Field = { no: number; bytes?: Uint8Array };

/** Length-delimited fields of one message (other wire types are skipped). */
function fields(buf: Uint8Array): Field[] {
  const out: Field[] = [];
  let pos = 0;
  const varint = (): number => {
    let result = 0;
    let shift = 0;
    for (let i = 0; i < 10; i++) {
      if (pos >= buf.length) throw new Error('truncated varint');
      const b = buf[pos++];
      if (shift < 49) result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
      shift += 7;
    }
    throw new Error('varint too long');
  };
  while (pos < buf.length) {
    const key = varint();
    const no = Math.floor(key / 8);
    const wire = key % 8;
    if (wire === 0) varint();
    else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else if (wire === 2) {
      const len = varint();
      if (pos + len > buf.length) throw new Error('truncated field');
      out.push({ no, bytes: buf.subarray(pos, pos + len) });
      pos += len;
    } else throw new Error(`unsupported wire type ${wire}`);
    if (pos > buf.length) throw new Error('truncated field');
  }
  return out;
}

const text = (b: Uint8Array | undefined): string => Buffer.from(b ?? []).toString('utf8');
const nameOf = (msg: Uint8Array): string => text(fields(msg).find((f) => f.no === 1)?.bytes);

/** FileDescriptorProto: 1 name, 2 package, 3 dependency, 4 message_type, 5 enum_type, 6 service, 7 extension. */
export function decodeFile(bytes: Buffer): FileEntry {
  const top = fields(bytes);
  const name = text(top.find((f) => f.no === 1)?.bytes);
  const pkg = text(top.find((f) => f.no === 2)?.bytes);
  const prefix = pkg === '' ? '' : `${pkg}.`;
  const symbols: string[] = [];
  const services: string[] = [];
  const references = new Set<string>();
  const refer = (msg: Uint8Array, ...fieldNos: number[]) => {
    for (const f of fields(msg)) if (fieldNos.includes(f.no) && f.bytes) references.add(stripDot(text(f.bytes)));
  };
  const addMessage = (msg: Uint8Array, scope: string) => {
    const full = `${scope}${nameOf(msg)}`;
    symbols.push(full);
    for (const f of fields(msg)) {
      if (f.bytes === undefined) continue;
      if (f.no === 2 || f.no === 6) refer(f.bytes, 6); // field / extension: type_name
      if (f.no === 3) addMessage(f.bytes, `${full}.`); // nested_type
      if (f.no === 4) addEnum(f.bytes, `${full}.`); // enum_type
    }
  };
  const addEnum = (msg: Uint8Array, scope: string) => {
    symbols.push(`${scope}${nameOf(msg)}`);
  };
  for (const f of top) {
    if (f.bytes === undefined) continue;
    if (f.no === 4) addMessage(f.bytes, prefix);
    else if (f.no === 5) addEnum(f.bytes, prefix);
    else if (f.no === 7) refer(f.bytes, 6); // extension: type_name
    else if (f.no === 6) {
      const service = `${prefix}${nameOf(f.bytes)}`;
      services.push(service);
      symbols.push(service);
      for (const m of fields(f.bytes)) {
        if (m.no !== 2 || m.bytes === undefined) continue;
        symbols.push(`${service}.${nameOf(m.bytes)}`);
        refer(m.bytes, 2, 3); // input_type, output_type
      }
    }
  }
  const dependencies = top.filter((f) => f.no === 3).map((f) => text(f.bytes));
  return Object.freeze({ name, dependencies, references: [...references], symbols, services, bytes });
}
