/** Public API of the shared kernel: errors and their mapping, proto files, network helpers, shutdown order. */
export { ParleyError, toParleyError } from './errors';
export type { ErrorCode } from './errors';
export { toGrpcStatus, toProblem, ValidationError } from './error-mapping';
export { loadDescriptorSet, loadProto, protoFile, serviceMethods, DESCRIPTOR_SET_FILE, PROTO_LOADER_OPTIONS } from './proto-files';
export { ShutdownSequence } from './shutdown-sequence';
export type { GatewayListener, ListenAddress } from './listener';
export { PROBLEM_CONTENT_TYPE } from './error-mapping';
export { freePort } from './net';
export { VERSION } from './version';
export { databaseUnavailableReason } from './connection-errors';
