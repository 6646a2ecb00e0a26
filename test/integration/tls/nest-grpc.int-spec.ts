import 'reflect-metadata';
import { once } from 'node:events';
import { Controller, Inject, Module, type INestMicroservice } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { GrpcMethod, GrpcStreamCall, GrpcStreamMethod } from '@nestjs/microservices';
import * as grpc from '@grpc/grpc-js';
import { map, throwError, type Observable } from 'rxjs';
import { ParleyError } from '../../../src/common/errors';
import { GrpcExceptionFilter } from '../../../src/common/grpc-exception.filter';
import { GrpcTransportStrategy } from '../../../src/grpc/grpc-transport.strategy';
import { PROTO_LOADER_OPTIONS } from '../../../src/grpc/proto-files';
import type { SecureGrpcServer } from '../../../src/grpc/secure-grpc-server';
import { TestCa } from '../../support/test-ca';
import { trustStoreOf } from '../../support/tls-clients';
import { credsFor, ECHO_PROTO_PATH, echoClient, echoProto, GATEWAY_ID, startServer, unary, type EchoClient, type TestServer } from './harness';

jest.setTimeout(30_000);

const SERVER = Symbol('SecureGrpcServer');
type Msg = { text: string };

@Controller()
class EchoController {
  constructor(@Inject(SERVER) private readonly grpcServer: SecureGrpcServer) {}

  @GrpcMethod('Echo', 'Say')
  say(req: Msg): Msg {
    if (req.text === 'invalid') throw new ParleyError('invalid_argument', 'text: not allowed');
    if (req.text === 'crash') throw new Error('secret internal detail');
    return { text: req.text };
  }

  @GrpcMethod('Echo', 'Whoami')
  whoami(_req: Msg, _md: grpc.Metadata, call: grpc.ServerUnaryCall<Msg, unknown>): { peer_id: string } {
    return { peer_id: this.grpcServer.peerOf(call)?.id.toString() ?? '' };
  }

  @GrpcStreamCall('Echo', 'Chat')
  async chat(call: grpc.ServerDuplexStream<Msg, Msg>): Promise<void> {
    if (call.metadata.get('x-mode')[0] === 'throw-now') throw new Error('thrown before reading');
    const [first] = (await once(call, 'data')) as [Msg];
    if (first.text === 'boom') throw new Error('boom after a message');
    if (first.text === 'denied') throw new ParleyError('permission_denied', 'caller may not chat');
    call.write({ text: first.text });
    call.end();
  }

  @GrpcStreamCall('Echo', 'Collect')
  collect(call: grpc.ServerReadableStream<Msg, Msg>, _callback: grpc.sendUnaryData<Msg>): void {
    throw new ParleyError('resource_exhausted', `too much from ${call.getPeer()}`);
  }

  @GrpcMethod('Echo', 'Expand')
  expand(_req: Msg): Observable<Msg> {
    return throwError(() => new ParleyError('not_found', 'nothing to expand'));
  }

  @GrpcStreamMethod('Echo', 'RxChat')
  rxChat(messages: Observable<Msg>): Observable<Msg> {
    return messages.pipe(
      map((m) => {
        if (m.text === 'boom') throw new Error('rx boom');
        return { text: m.text };
      }),
    );
  }
}

/** Writes the messages, half-closes, and reports how the stream ended. */
async function streamOutcome(call: grpc.ClientDuplexStream<Msg, Msg> | grpc.ClientReadableStream<Msg>, send: Msg[] = []): Promise<{ code: number; details: string; messages: Msg[] }> {
  const messages: Msg[] = [];
  const done = new Promise<{ code: number; details: string; messages: Msg[] }>((resolve) => {
    call.on('data', (m: Msg) => messages.push(m));
    call.on('error', (err: grpc.ServiceError) => resolve({ code: err.code, details: err.details, messages }));
    call.on('status', (s: grpc.StatusObject) => {
      if (s.code === grpc.status.OK) resolve({ code: s.code, details: s.details, messages });
    });
  });
  if ('write' in call) {
    for (const m of send) call.write(m);
    call.end();
  }
  return done;
}

describe.each([
  ['with the global GrpcExceptionFilter', true],
  ['without any exception filter', false],
])('NestJS controllers on our grpc-js server, %s', (_name, withFilter) => {
  let gw: TestServer;
  let app: INestMicroservice;
  let client: EchoClient;
  let unhandled: unknown[];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);

  beforeAll(async () => {
    unhandled = [];
    process.on('unhandledRejection', onUnhandled);
    const acme = await TestCa.create({ trustDomain: 'acme.test' });
    gw = await startServer(trustStoreOf(acme), await acme.issueSvid({ id: GATEWAY_ID }));
    gw.server.addProtos(echoProto());

    @Module({ controllers: [EchoController], providers: [{ provide: SERVER, useValue: gw.server }] })
    class EchoModule {}

    const strategy = new GrpcTransportStrategy(gw.server.server, { package: 'parley.test.v1', protoPath: ECHO_PROTO_PATH, loader: PROTO_LOADER_OPTIONS }, gw.logger);
    app = await NestFactory.createMicroservice(EchoModule, { strategy, logger: false });
    if (withFilter) app.useGlobalFilters(new GrpcExceptionFilter());
    await app.listen();
    client = echoClient(gw.port, credsFor(await acme.issueSvid({ id: 'spiffe://acme.test/ns/ml/sa/trainer' }), trustStoreOf(acme)));
  });
  afterAll(async () => {
    client?.close();
    await app?.close();
    await gw?.stop();
    process.off('unhandledRejection', onUnhandled);
  });

  it('serves a unary method and gives the handler the verified peer', async () => {
    await expect(unary(client, 'Say', { text: 'hi' })).resolves.toMatchObject({ text: 'hi' });
    await expect(unary(client, 'Whoami', { text: '' })).resolves.toMatchObject({ peer_id: 'spiffe://acme.test/ns/ml/sa/trainer' });
  });

  it('turns a @GrpcStreamCall that throws (before or after reading) into a status, and keeps serving', async () => {
    const md = new grpc.Metadata();
    md.set('x-mode', 'throw-now');
    const early = await streamOutcome(client.Chat(md) as grpc.ClientDuplexStream<Msg, Msg>);
    expect(early.code).toBe(grpc.status.INTERNAL);
    const late = await streamOutcome(client.Chat() as grpc.ClientDuplexStream<Msg, Msg>, [{ text: 'boom' }]);
    expect(late.code).toBe(grpc.status.INTERNAL);
    expect(late.details).not.toContain('boom');
    const ok = await streamOutcome(client.Chat() as grpc.ClientDuplexStream<Msg, Msg>, [{ text: 'fine' }]);
    expect(ok).toMatchObject({ code: grpc.status.OK, messages: [{ text: 'fine' }] });
    await expect(unary(client, 'Say', { text: 'still here' })).resolves.toMatchObject({ text: 'still here' });
    expect(unhandled).toEqual([]);
  });

  it('maps errors of every handler kind to statuses on their call', async () => {
    const expected = (code: grpc.status, generic: grpc.status) => (withFilter ? code : generic);
    await expect(unary(client, 'Say', { text: 'crash' })).rejects.toMatchObject({ code: expected(grpc.status.INTERNAL, grpc.status.UNKNOWN) });
    await expect(unary(client, 'Say', { text: 'invalid' })).rejects.toMatchObject({ code: expected(grpc.status.INVALID_ARGUMENT, grpc.status.UNKNOWN) });
    const denied = await streamOutcome(client.Chat() as grpc.ClientDuplexStream<Msg, Msg>, [{ text: 'denied' }]);
    expect(denied).toMatchObject({ code: expected(grpc.status.PERMISSION_DENIED, grpc.status.INTERNAL) });
    if (withFilter) expect(denied.details).toBe('permission denied');
    const collected = await new Promise<grpc.ServiceError | null>((resolve) => {
      const call = client.Collect((err: grpc.ServiceError | null) => resolve(err)) as grpc.ClientWritableStream<Msg>;
      call.write({ text: 'x' });
      call.end();
    });
    expect(collected?.code).toBe(expected(grpc.status.RESOURCE_EXHAUSTED, grpc.status.INTERNAL));
    const expanded = await streamOutcome(client.Expand({ text: 'x' }) as grpc.ClientReadableStream<Msg>);
    expect(expanded.code).toBe(expected(grpc.status.NOT_FOUND, grpc.status.UNKNOWN));
    const rx = await streamOutcome(client.RxChat() as grpc.ClientDuplexStream<Msg, Msg>, [{ text: 'a' }, { text: 'boom' }]);
    expect(rx.code).toBe(expected(grpc.status.INTERNAL, grpc.status.UNKNOWN));
    await expect(unary(client, 'Say', { text: 'after all that' })).resolves.toMatchObject({ text: 'after all that' });
    expect(unhandled).toEqual([]);
  });
});
