import type { ParleyConfig } from './schema';

/** The configuration, validated once at boot; each context's module reads its own slice. */
export class Settings {
  constructor(readonly config: ParleyConfig) {}
}
