/** Public API of logging: the root logger and its NestJS adapter. */
export { createLogger, PinoNestLogger, RootLogger } from './logger';
