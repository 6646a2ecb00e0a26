import { Module } from '@nestjs/common';
import { TrustStore } from './trust-store';

/** The bundles the gateway trusts, per trust domain: fed by identity (own) and federation (partners). */
@Module({ providers: [TrustStore], exports: [TrustStore] })
export class TrustModule {}
