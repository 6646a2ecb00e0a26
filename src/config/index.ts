/** Public API of the configuration: loading, the schema's types, the validated settings. */
export { Settings } from './settings';
export type { ParleyConfig } from './schema';
export type { LoadedConfig } from './load';
export { ConfigError, loadConfig } from './load';
export { durationsAsWritten, redactConfig } from './redact';
export { configLeaves } from './schema-walk';
export type { AuthzConfig, DatabaseConfig, GrpcConfig, IdentityConfig, LogConfig, S3Config, StoreConfig, TlsConfig } from './schema';
export { configSchema, duration } from './schema';
