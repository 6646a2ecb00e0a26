/**
 * Field declarations of the admin request DTOs: each decorator writes the field's OpenAPI
 * schema (@nestjs/swagger) and its validation (class-validator) from one declaration, so the
 * document cannot say something the AdminValidationPipe does not enforce. Messages are the
 * API's own ("must be a string"), never class-validator's defaults; type and shape messages
 * never repeat the value, domain checks give the domain parser's reason.
 *
 * Presence: a field is required unless `optional` says otherwise; `optional: true` means
 * absent is `undefined` only (JSON `null` is a wrong type), `'or-null'` treats `null` as
 * absent too. `requiredWhen` makes an optional field required depending on the others.
 */
import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional, type ApiPropertyOptions } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsBoolean, IsIn, IsInt, IsOptional, IsString, MaxLength, Min, MinLength, registerDecorator, ValidateIf, ValidateNested } from 'class-validator';

/** Why a value is wrong (a message), or undefined when it is right; `dto` is the object that holds it. */
export type Why<T = unknown> = (value: T, dto: Record<string, unknown>) => string | undefined;

/** One wrong element of an array field, reported as `field[index]`. */
export interface ItemProblem {
  index: number;
  message: string;
}

/** The context an `Items` constraint leaves on its error: the exception factory lists the elements with it. */
export interface ItemsContext {
  /** The first `limit` wrong elements. */
  problemsOf(value: unknown, limit: number): ItemProblem[];
}
export const ITEMS_CONSTRAINT = 'items';

/** What the validation pipe needs of a request DTO: where it comes from and what its 400 is called. */
export interface RequestShape {
  source: 'body' | 'query';
  /** "what failed: why" of the ValidationError, e.g. `revoke: invalid request`. */
  invalid: string;
}
const SHAPES = new WeakMap<object, RequestShape>();

/** Marks a JSON body DTO (only marked classes get the "must be a JSON object" check and the message). */
export function JsonBody(invalid: string): ClassDecorator {
  return (target) => void SHAPES.set(target, { source: 'body', invalid });
}

/** Marks a query-string DTO: unknown parameters are "unknown query parameter". */
export function QueryString(invalid: string): ClassDecorator {
  return (target) => void SHAPES.set(target, { source: 'query', invalid });
}

export function requestShapeOf(type: unknown): RequestShape | undefined {
  return typeof type === 'function' ? SHAPES.get(type) : undefined;
}

/** A class-validator constraint that asks `why` (a domain parser, usually). */
export function Check(name: string, why: Why): PropertyDecorator {
  return (target, propertyName) =>
    registerDecorator({
      name,
      target: target.constructor,
      propertyName: String(propertyName),
      validator: {
        validate: (value: unknown, args) => why(value, args?.object as Record<string, unknown>) === undefined,
        defaultMessage: (args) => (args === undefined ? 'is invalid' : (why(args.value, args.object as Record<string, unknown>) ?? 'is invalid')),
      },
    });
}

/**
 * Every element of an array checked by `why`; the exception factory reports each wrong one
 * at its own path (`methods[1]`), which class-validator's `each` cannot (it names the array).
 * A value that is not an array is left to IsArray.
 */
export function Items(why: (item: unknown, index: number) => string | undefined): PropertyDecorator {
  const problemsOf = (value: unknown, limit: number): ItemProblem[] => {
    const out: ItemProblem[] = [];
    if (!Array.isArray(value)) return out;
    for (let index = 0; index < value.length && out.length < limit; index++) {
      const message = why(value[index] as unknown, index);
      if (message !== undefined) out.push({ index, message });
    }
    return out;
  };
  const context: ItemsContext = { problemsOf };
  return (target, propertyName) =>
    registerDecorator({
      name: ITEMS_CONSTRAINT,
      target: target.constructor,
      propertyName: String(propertyName),
      options: { context },
      validator: { validate: (value: unknown) => problemsOf(value, 1).length === 0, defaultMessage: () => 'has invalid elements' },
    });
}

interface FieldOptions {
  /** OpenAPI: description, example, format… (type, enum and limits come from the declaration). */
  doc?: ApiPropertyOptions;
  optional?: true | 'or-null';
  /** With `optional`: required after all when this holds (e.g. a profile that needs the field). */
  requiredWhen?: (dto: Record<string, unknown>) => boolean;
  /** Message for an absent (`undefined`) required field; default: the type message. */
  missing?: string;
}

function presence(o: FieldOptions): PropertyDecorator[] {
  const out: PropertyDecorator[] = [];
  const { requiredWhen } = o;
  if (o.optional === 'or-null' && requiredWhen === undefined) out.push(IsOptional());
  else if (o.optional !== undefined) {
    const absent = (v: unknown) => v === undefined || (o.optional === 'or-null' && v === null);
    out.push(ValidateIf((dto: Record<string, unknown>, v: unknown) => !absent(v) || (requiredWhen?.(dto) ?? false)));
  }
  if (o.missing !== undefined) {
    const missing = o.missing;
    out.push(Check('required', (v) => (v === undefined ? missing : undefined)));
  }
  return out;
}

function docs(o: FieldOptions, schema: ApiPropertyOptions): PropertyDecorator {
  const options = { ...schema, ...o.doc } as ApiPropertyOptions;
  return o.optional === undefined ? ApiProperty(options) : ApiPropertyOptional(options);
}

export interface TextOptions extends FieldOptions {
  /** A value that is not a string (and, without `missing`, an absent one). */
  message: string;
  /** The empty string is wrong too (same message). */
  nonEmpty?: boolean;
  /** One of these (same message). */
  enum?: readonly string[];
  maxLength?: { max: number; message: string };
  /** Domain check of the text (SPIFFE ID, RFC 3339 …). */
  check?: Why<string>;
}

/** A JSON string field. */
export function Text(o: TextOptions): PropertyDecorator {
  return applyDecorators(
    docs(o, { type: String, ...(o.enum === undefined ? {} : { enum: [...o.enum] }), ...(o.maxLength === undefined ? {} : { maxLength: o.maxLength.max }) }),
    ...presence(o),
    IsString({ message: o.message }),
    ...(o.nonEmpty === true ? [MinLength(1, { message: o.message })] : []),
    ...(o.enum === undefined ? [] : [IsIn([...o.enum], { message: o.message })]),
    ...(o.maxLength === undefined ? [] : [MaxLength(o.maxLength.max, { message: o.maxLength.message })]),
    ...(o.check === undefined ? [] : [Check('text', o.check as Why)]),
  );
}

/** A JSON boolean field. */
export function Flag(o: FieldOptions & { message: string; check?: Why<boolean> }): PropertyDecorator {
  return applyDecorators(docs(o, { type: Boolean }), ...presence(o), IsBoolean({ message: o.message }), ...(o.check === undefined ? [] : [Check('flag', o.check as Why)]));
}

/** A JSON integer field, at least `minimum`. */
export function Integer(o: FieldOptions & { message: string; minimum: number }): PropertyDecorator {
  return applyDecorators(docs(o, { type: 'integer', minimum: o.minimum }), ...presence(o), IsInt({ message: o.message }), Min(o.minimum, { message: o.message }));
}

interface ListOptions extends FieldOptions {
  /** A value that is not an array (and, without `missing`, an absent one). */
  message: string;
  /** An empty array is wrong: this message. */
  nonEmpty?: string;
  maxItems?: { max: number; message: string };
}

function listDecorators(o: ListOptions, items: Record<string, unknown>): PropertyDecorator[] {
  return [
    docs(o, { ...items, ...(o.nonEmpty === undefined ? {} : { minItems: 1 }), ...(o.maxItems === undefined ? {} : { maxItems: o.maxItems.max }) }),
    ...presence(o),
    IsArray({ message: o.message }),
    ...(o.nonEmpty === undefined ? [] : [ArrayMinSize(1, { message: o.nonEmpty })]),
    ...(o.maxItems === undefined ? [] : [ArrayMaxSize(o.maxItems.max, { message: o.maxItems.message })]),
  ];
}

/** A JSON array of strings; each element checked (and reported) on its own. */
export function TextList(o: ListOptions & { item?: (text: string) => string | undefined; itemMessage?: string }): PropertyDecorator {
  const itemMessage = o.itemMessage ?? 'must be a string';
  const { item } = o;
  return applyDecorators(
    ...listDecorators(o, { type: [String] }),
    Items((value) => (typeof value !== 'string' ? itemMessage : item?.(value))),
  );
}

export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A JSON array of objects of `type` (a DTO with its own field declarations), validated nested.
 * A primitive element is reported by ValidateNested; an array element (which it would
 * descend into) by Items, which also stops the nested validation of the others.
 */
export function ObjectList(type: new () => object, o: ListOptions & { itemMessage: string }): PropertyDecorator {
  return applyDecorators(
    ...listDecorators(o, { type: [type] }),
    Items((value) => (Array.isArray(value) ? o.itemMessage : undefined)),
    ValidateNested({ each: true, message: o.itemMessage }),
    Type(() => type),
  );
}

// Query strings: express's parser gives a string, or an array of them when a parameter is
// repeated. Single-valued parameters refuse the array; an empty value is left to the caller.

interface ParamOptions {
  doc?: ApiPropertyOptions;
  /** Message for a parameter given more than once. */
  once: string;
}

function singleParam(o: ParamOptions, schema: ApiPropertyOptions): PropertyDecorator[] {
  return [ApiPropertyOptional({ ...schema, ...o.doc } as ApiPropertyOptions), ValidateIf((_dto: object, v: unknown) => v !== undefined), Check('once', (v) => (Array.isArray(v) ? o.once : undefined))];
}

/** A single-valued text parameter; a non-empty value must be one of `enum` / pass `check`. */
export function QueryText(o: ParamOptions & { enum?: readonly string[]; message?: string; check?: Why<string> }): PropertyDecorator {
  const { check } = o;
  const allowed = o.enum;
  const why: Why<string> = (v, dto) => {
    if (typeof v !== 'string' || v === '') return undefined;
    if (allowed !== undefined && !allowed.includes(v)) return o.message ?? 'is not allowed';
    return check?.(v, dto);
  };
  return applyDecorators(...singleParam(o, { type: String, ...(allowed === undefined ? {} : { enum: [...allowed] }) }), Check('text', why as Why));
}

/** A single-valued `true` | `false` parameter, as a boolean. */
export function QueryFlag(o: ParamOptions & { message: string }): PropertyDecorator {
  return applyDecorators(
    Transform(({ value }: { value: unknown }) => (value === 'true' ? true : value === 'false' ? false : value), { toClassOnly: true }),
    ...singleParam(o, { type: Boolean }),
    IsBoolean({ message: o.message }),
  );
}

/** A single-valued decimal parameter (at most 10 digits), as a number. */
export function QueryInteger(o: ParamOptions & { message: string; minimum: number }): PropertyDecorator {
  return applyDecorators(
    Transform(({ value }: { value: unknown }) => (typeof value === 'string' && /^[0-9]{1,10}$/.test(value) ? Number(value) : value), { toClassOnly: true }),
    ...singleParam(o, { type: 'integer', minimum: o.minimum }),
    IsInt({ message: o.message }),
    Min(o.minimum, { message: o.message }),
  );
}

/** A repeatable parameter, as an array of its values; `check` judges them together. */
export function QueryList(o: { doc?: ApiPropertyOptions; check: Why<string[]> }): PropertyDecorator {
  return applyDecorators(
    Transform(({ value }: { value: unknown }) => (value === undefined || Array.isArray(value) ? value : [value]), { toClassOnly: true }),
    ApiPropertyOptional({ type: [String], ...o.doc } as ApiPropertyOptions),
    ValidateIf((_dto: object, v: unknown) => v !== undefined),
    Check('list', o.check as Why),
  );
}
