import { type ArgumentMetadata, Injectable, ValidationPipe } from '@nestjs/common';
import { ValidationTypes, type ValidationError as ConstraintError } from 'class-validator';
import { ValidationError } from '../common';
import { ITEMS_CONSTRAINT, isJsonObject, requestShapeOf, type ItemsContext } from './admin-fields';

type FieldError = { field: string; message: string };

/** Longest unknown key named in a field path (the rest of a long key is left out). */
const MAX_KEY_IN_PATH = 64;
/** Most field errors listed in one answer (a body of a million wrong elements gets a short answer). */
export const MAX_FIELD_ERRORS = 100;

/**
 * The one validation of admin request bodies and query strings (registered as APP_PIPE): the
 * DTO's class-validator declarations (admin-fields.ts, which also write the OpenAPI schema).
 * Unknown fields are refused, not dropped, so a misspelt field never passes unnoticed; the
 * handler gets the DTO instance (query flags and numbers converted). Runs after the bounded
 * JSON parser (admin-input.ts). Checks that need domain state (served methods, the own trust
 * domain, duplicate rule ids) stay with the domain and run when this one passes.
 */
@Injectable()
export class AdminValidationPipe extends ValidationPipe {
  constructor() {
    super({
      whitelist: true,
      forbidNonWhitelisted: true,
      // A nested value no DTO describes is an error, not a pass.
      forbidUnknownValues: true,
      // One message per field: the first declared check that fails.
      stopAtFirstError: true,
      transform: true,
      // Errors keep their object and value for the paths (`[i]` under an array); never sent.
      validationError: { target: true, value: true },
      exceptionFactory: validationProblem,
    });
  }

  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    const shape = requestShapeOf(metadata.metatype);
    if (shape === undefined) return super.transform(value, metadata);
    if (shape.source === 'body' && !isJsonObject(value)) throw new ValidationError(shape.invalid, [{ field: '', message: 'body must be a JSON object' }]);
    const hidden: FieldError[] = [];
    keysNamingObjectMembers(value, '', shape.source === 'query' ? 'unknown query parameter' : 'unknown field', hidden);
    let dto: unknown;
    try {
      dto = await super.transform(value, metadata);
    } catch (err) {
      if (hidden.length > 0 && err instanceof ValidationError) throw new ValidationError(shape.invalid, listed([...hidden, ...err.fieldErrors]));
      throw err;
    }
    if (hidden.length > 0) throw new ValidationError(shape.invalid, listed(hidden));
    return dto;
  }
}

/**
 * Keys named like Object.prototype members (`toString`, `constructor`, …): class-transformer
 * never copies them into the DTO, so the whitelist would never see them and they would be
 * ignored instead of refused. No DTO declares such a field (nor a free-form map, where this
 * walk would have to stop).
 */
function keysNamingObjectMembers(value: unknown, parent: string, message: string, out: FieldError[]): void {
  if (Array.isArray(value)) {
    value.forEach((item: unknown, i) => keysNamingObjectMembers(item, `${parent}[${i}]`, message, out));
    return;
  }
  if (!isJsonObject(value)) return;
  for (const key of Object.keys(value)) {
    const name = key.slice(0, MAX_KEY_IN_PATH);
    const field = parent === '' ? name : `${parent}.${name}`;
    if (key in Object.prototype) out.push({ field, message });
    else keysNamingObjectMembers(value[key], field, message, out);
  }
}

/**
 * class-validator's error tree as the API's ValidationError (400 problem+json, `errors[]`):
 * one entry per wrong field with its path, `a.b` into objects and `a[3].b` into arrays,
 * relative to the body or the query string.
 */
export function validationProblem(errors: ConstraintError[]): ValidationError {
  const shape = requestShapeOf(errors[0]?.target?.constructor);
  const unknown = shape?.source === 'query' ? 'unknown query parameter' : 'unknown field';
  const out: FieldError[] = [];
  collect(errors, '', unknown, out);
  return new ValidationError(shape?.invalid ?? 'request: invalid input', out.length > 0 ? listed(out) : [{ field: '', message: 'is invalid' }]);
}

function listed(errors: FieldError[]): FieldError[] {
  if (errors.length <= MAX_FIELD_ERRORS) return errors;
  return [...errors.slice(0, MAX_FIELD_ERRORS), { field: '', message: `more problems not listed (at most ${MAX_FIELD_ERRORS} are)` }];
}

function collect(errors: readonly ConstraintError[], parent: string, unknown: string, out: FieldError[]): void {
  for (const e of errors) {
    const field = pathOf(parent, e);
    const constraints = e.constraints ?? {};
    const name = Object.keys(constraints)[0];
    if (name === ITEMS_CONSTRAINT) {
      const items = e.contexts?.[ITEMS_CONSTRAINT] as ItemsContext | undefined;
      for (const p of items?.problemsOf(e.value, MAX_FIELD_ERRORS + 1) ?? []) out.push({ field: `${field}[${p.index}]`, message: p.message });
    } else if (name === ValidationTypes.WHITELIST) {
      out.push({ field, message: unknown });
    } else if (name === 'unknownValue') {
      out.push({ field, message: 'must be an object' });
    } else if (name !== undefined) {
      out.push({ field, message: constraints[name]! });
    }
    if (e.children !== undefined && e.children.length > 0) collect(e.children, field, unknown, out);
  }
}

/** `parent.key`, or `parent[i]` for an element of a nested array (its target is the array). */
function pathOf(parent: string, e: ConstraintError): string {
  if (e.property === undefined) return parent;
  const key = String(e.property).slice(0, MAX_KEY_IN_PATH);
  if (Array.isArray(e.target)) return `${parent}[${key}]`;
  return parent === '' ? key : `${parent}.${key}`;
}
