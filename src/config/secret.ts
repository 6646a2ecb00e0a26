import { z } from 'zod';

/** How a secret is shown by `parley config print` and in errors. */
export type SecretKind = 'value' | 'url-password';
export const secretRegistry = z.registry<{ secret: SecretKind }>();

/** Marks a schema as a secret: masked by `parley config print`, never named with its value in errors. */
export function secret<T extends z.ZodType>(schema: T, kind: SecretKind = 'value'): T {
  secretRegistry.add(schema, { secret: kind });
  return schema;
}
