/** Public API of the store/domain context. */
export { ContentId } from './content-id';
export { MAX_NAMESPACE_BYTES, namespaceError, parseNamespace } from './names';
