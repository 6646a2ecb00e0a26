import type { LoggerService, LogLevel } from '@nestjs/common';
import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';
import type { LogConfig } from '../config';

/** Keys whose values never reach a log line, wherever they appear in a logged object. */
const REDACT_PATHS = [
  'password',
  '*.password',
  'secret',
  '*.secret',
  'token',
  '*.token',
  'privateKey',
  '*.privateKey',
  'key',
  '*.key',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'databaseUrl',
  '*.databaseUrl',
];

/** Structured JSON logs; human-readable when attached to a terminal (or format: pretty). */
export function createLogger(config: LogConfig, stream: NodeJS.WritableStream = process.stdout): Logger {
  const usePretty = config.format === 'pretty' || (config.format === 'auto' && (stream as { isTTY?: boolean }).isTTY === true);
  const options = { level: config.level, base: { service: 'parley' }, redact: { paths: REDACT_PATHS, censor: '[redacted]' } };
  if (usePretty) return pino(options, pretty({ sync: true, destination: stream, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service' }));
  return pino(options, stream);
}

/**
 * Nest's own start-up chatter (one line per module, controller and route): debug, so that the
 * gateway's one start-up summary is what `log.level: info` shows.
 */
const NEST_STARTUP_CONTEXTS = new Set(['NestFactory', 'InstanceLoader', 'RoutesResolver', 'RouterExplorer', 'NestApplication']);

/** Adapts pino to NestJS's LoggerService, keeping the Nest context as `context`. */
export class PinoNestLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}

  log(message: unknown, ...rest: unknown[]): void {
    const context = rest[rest.length - 1];
    this.write(typeof context === 'string' && NEST_STARTUP_CONTEXTS.has(context) ? 'debug' : 'info', message, rest);
  }
  error(message: unknown, ...rest: unknown[]): void {
    this.write('error', message, rest);
  }
  warn(message: unknown, ...rest: unknown[]): void {
    this.write('warn', message, rest);
  }
  debug(message: unknown, ...rest: unknown[]): void {
    this.write('debug', message, rest);
  }
  verbose(message: unknown, ...rest: unknown[]): void {
    this.write('trace', message, rest);
  }
  fatal(message: unknown, ...rest: unknown[]): void {
    this.write('fatal', message, rest);
  }
  setLogLevels(_levels: LogLevel[]): void {
    // Levels come from the configuration (log.level).
  }

  private write(level: pino.Level, message: unknown, rest: unknown[]): void {
    // Nest passes the context as the last string argument; an error stack may precede it.
    const args = [...rest];
    const context = typeof args[args.length - 1] === 'string' ? (args.pop() as string) : undefined;
    const child = context ? this.logger.child({ context }) : this.logger;
    if (typeof message === 'object' && message !== null && !(message instanceof Error)) {
      const text = typeof args[0] === 'string' ? (args.shift() as string) : undefined;
      child[level](message as object, text);
    } else if (message instanceof Error) {
      child[level]({ err: message }, message.message);
    } else {
      const stack = typeof args[0] === 'string' && level === 'error' ? { stack: args.shift() } : {};
      child[level](stack, String(message));
    }
  }
}

/** The gateway's root logger; each component logs through a child named after it. */
export class RootLogger {
  constructor(readonly logger: Logger) {}

  child(component: string): Logger {
    return this.logger.child({ component });
  }
}
