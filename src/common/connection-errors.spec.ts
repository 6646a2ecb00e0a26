import { databaseUnavailableReason } from './connection-errors';

/** An error shaped as node-postgres reports a server error (SQLSTATE in `code`). */
function pgError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code, severity: 'FATAL' });
}

describe('databaseUnavailableReason', () => {
  it.each([
    ['a refused connection', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }), 'connection failed (ECONNREFUSED)'],
    ['a reset connection', Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }), 'connection failed (ECONNRESET)'],
    ['admin_shutdown', pgError('57P01', 'terminating connection due to administrator command'), 'server not accepting work (57P01)'],
    ['crash_shutdown', pgError('57P02', 'terminating connection because of crash of another server process'), 'server not accepting work (57P02)'],
    ['cannot_connect_now', pgError('57P03', 'the database system is starting up'), 'server not accepting work (57P03)'],
    ['a connection exception (class 08)', pgError('08006', 'connection failure'), 'connection exception (08006)'],
    ['a lost connection', new Error('Connection terminated unexpectedly'), 'Connection terminated unexpectedly'],
    ['a connect timeout', new Error('Connection terminated due to connection timeout'), 'Connection terminated due to connection timeout'],
    ['a pool timeout', new Error('timeout exceeded when trying to connect'), 'timeout exceeded when trying to connect'],
    ['a broken client', new Error('Client has encountered a connection error and is not queryable'), 'Client has encountered a connection error and is not queryable'],
  ])('recognises %s', (_what, err, reason) => {
    expect(databaseUnavailableReason(err)).toBe(reason);
  });

  it('follows TypeORM driverError, cause chains and AggregateError members', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED ::1:5432'), { code: 'ECONNREFUSED' });
    expect(databaseUnavailableReason(Object.assign(new Error('Query failed'), { driverError: pgError('57P01', 'terminating') }))).toBe('server not accepting work (57P01)');
    expect(databaseUnavailableReason(new Error('outer', { cause: new Error('middle', { cause: refused }) }))).toBe('connection failed (ECONNREFUSED)');
    expect(databaseUnavailableReason(new AggregateError([new Error('first'), refused], 'all failed'))).toBe('connection failed (ECONNREFUSED)');
  });

  it.each([
    ['a unique violation', pgError('23505', 'duplicate key value violates unique constraint')],
    ['a syntax error', pgError('42601', 'syntax error at or near "SELEC"')],
    ['a statement timeout', pgError('57014', 'canceling statement due to statement timeout')],
    ['an invalid text value', pgError('22P05', 'unsupported Unicode escape sequence')],
    ['a plain error', new Error('something else')],
    ['a string', 'Connection terminated'],
    ['null', null],
  ])('leaves %s alone', (_what, err) => {
    expect(databaseUnavailableReason(err)).toBeUndefined();
  });

  it('stops on a cause cycle', () => {
    const first = new Error('first') as Error & { cause?: unknown };
    const second = new Error('second', { cause: first });
    first.cause = second;
    expect(databaseUnavailableReason(first)).toBeUndefined();
  });
});
