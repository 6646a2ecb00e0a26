import { EventEmitter } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import { ParleyError } from '../common/errors';
import { guardHandler } from './call-guard';

const logger = { debug: jest.fn(), info: jest.fn(), warn: jest.fn(), error: jest.fn() };
const flush = () => new Promise((r) => setImmediate(r));

describe('guardHandler', () => {
  it('reports a rejection through the unary callback, keeping a status-shaped code', async () => {
    const callback = jest.fn();
    guardHandler(async () => Promise.reject({ code: grpc.status.NOT_FOUND, details: 'no such record' }), logger, '/x/Y')({}, callback);
    await flush();
    expect(callback).toHaveBeenCalledWith(expect.objectContaining({ code: grpc.status.NOT_FOUND, details: 'no such record' }), null);
  });

  it('maps other errors with the error model and never leaks an internal message', async () => {
    const callback = jest.fn();
    guardHandler(() => {
      throw new Error('db password wrong');
    }, logger, '/x/Y')({}, callback);
    guardHandler(async () => {
      throw new ParleyError('invalid_argument', 'name: too long');
    }, logger, '/x/Y')({}, callback);
    await flush();
    expect(callback).toHaveBeenNthCalledWith(1, expect.objectContaining({ code: grpc.status.INTERNAL, details: 'internal error' }), null);
    expect(callback).toHaveBeenNthCalledWith(2, expect.objectContaining({ code: grpc.status.INVALID_ARGUMENT, details: 'name: too long' }), null);
  });

  it('ends a stream call with the status through its error event, unless it has ended', async () => {
    const stream = Object.assign(new EventEmitter(), { writableEnded: false });
    const seen: unknown[] = [];
    stream.on('error', (s) => seen.push(s));
    guardHandler(async () => {
      throw new ParleyError('permission_denied', 'not for you');
    }, logger, '/x/Y')(stream);
    await flush();
    expect(seen).toEqual([expect.objectContaining({ code: grpc.status.PERMISSION_DENIED, details: 'permission denied' })]);
    stream.writableEnded = true;
    guardHandler(async () => Promise.reject(new Error('late')), logger, '/x/Y')(stream);
    await flush();
    expect(seen).toHaveLength(1);
  });
});
