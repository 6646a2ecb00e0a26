/** Public API of the TLS context. */
export { MtlsListener } from './mtls-listener';
export type { ListenerAlpn, MtlsListenerOptions, MtlsListenerStats, TlsMinVersion } from './mtls-listener';
export type { RefusalReason } from './peer-admission';
export { PeerDirectory } from './peer-directory';
export { peerIdentity, peerLogFields } from './peer-identity';
export type { PeerIdentity } from './peer-identity';
export { presentedChain, presentedChainDer, peerChainDer, detailedChainDer } from './peer-chain';
export { FixedSvidProvider, svidProviderFrom } from './server-identity';
export type { PemKeyPair, SvidProvider } from './server-identity';
export { serverAuthorization, serverIdentityCheck, spiffeChannelCredentials, spiffeTlsConnectOptions } from './client-credentials';
export type { ClientTrust, ExpectedServer, ServerAuthorization, SpiffeClientOptions } from './client-credentials';
export type { TransportLogger } from './tls-logger';
export { unheldAuthorityDomain } from './peer-admission';
export type { SvidSource } from './server-identity';
