/** Public API of the trust context: the bundles the gateway trusts, per trust domain. */
export { TrustStore } from './trust-store';
export type { TrustChange } from './trust-store';
export { TrustModule } from './trust.module';
