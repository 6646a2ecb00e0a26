import { Logger } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { ValidationError } from '../common';
import { ParleyError } from '../common';
import type { AdminRefusal } from './admin-auth';
import { sendProblem } from './admin-problem';
import { jsonErrorPosition, jsonNestingExceeds, jsonTextProblems, pathProblem, queryTextProblems, type InputProblem } from './domain/json-input';

export interface AdminInputOptions {
  /** Largest JSON body (bytes): larger is 413 (admin.maxBodyBytes). */
  maxBodyBytes: number;
  /** Deepest JSON nesting of objects and arrays: deeper is 400 (admin.maxJsonDepth). */
  maxJsonDepth: number;
  /** Every refusal (metrics). */
  onRefused?(reason: AdminRefusal): void;
}

type Middleware = (req: Request, res: Response, next: NextFunction) => void;

function refuse(o: AdminInputOptions, logger: Logger, req: Request, res: Response, reason: AdminRefusal, err: ParleyError, status?: number): void {
  o.onRefused?.(reason);
  logger.warn({ path: req.path, refusal: reason, reason: err.message }, 'admin request refused');
  sendProblem(req, res, err, { status, close: status === 413 });
}

/**
 * Path and query text of every admin request (after the gate): malformed percent-encoding,
 * NUL or unpaired surrogates are 400 naming the parameter, before a route or the database
 * sees them.
 */
export function adminRequestText(o: AdminInputOptions, logger = new Logger('admin')): Middleware {
  return (req, res, next) => {
    const problems: InputProblem[] = [];
    const rawPath = (req.originalUrl ?? req.url).split('?')[0] ?? '';
    const pathWhy = pathProblem(rawPath);
    if (pathWhy !== undefined) problems.push({ field: 'path', message: pathWhy });
    problems.push(...queryTextProblems((req.query ?? {}) as Record<string, unknown>));
    if (problems.length === 0) return next();
    refuse(o, logger, req, res, 'text_invalid', new ValidationError('admin request: invalid text', problems));
  };
}

/**
 * The admin JSON body parser (after the gate, so a non-admin's body is never read): at most
 * `maxBodyBytes` (413 otherwise, the connection closed), UTF-8, nested at most
 * `maxJsonDepth` deep (measured before parsing), valid JSON, and no NUL or unpaired
 * surrogate in any string or key (400 listing every field). Other media types are left to
 * their routes.
 */
export function adminJsonBody(o: AdminInputOptions, logger = new Logger('admin')): Middleware {
  const tooLarge = () => new ParleyError('resource_exhausted', `request body: larger than ${o.maxBodyBytes} bytes (admin.maxBodyBytes)`);
  return (req, res, next) => {
    const jsonType = req.is(['application/json', '+json']);
    if (jsonType === false || jsonType === null) return next();
    const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase();
    if (encoding !== 'identity') {
      return refuse(o, logger, req, res, 'json_invalid', invalidBody(`content-encoding ${encoding.slice(0, 32)} is not supported`), 415);
    }
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > o.maxBodyBytes) return refuse(o, logger, req, res, 'body_too_large', tooLarge(), 413);
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= o.maxBodyBytes) return void chunks.push(chunk);
      refused = true;
      req.off('data', onData);
      refuse(o, logger, req, res, 'body_too_large', tooLarge(), 413);
    };
    req.on('data', onData);
    req.once('end', () => {
      if (refused) return;
      const parsed = parseJsonBody(Buffer.concat(chunks, size), o.maxJsonDepth);
      if (!parsed.ok) return refuse(o, logger, req, res, parsed.reason, parsed.error);
      req.body = parsed.value;
      next();
    });
  };
}

function invalidBody(message: string, field = 'body'): ValidationError {
  return new ValidationError('request body: invalid', [{ field, message }]);
}

type ParsedBody = { ok: true; value: unknown } | { ok: false; reason: AdminRefusal; error: ValidationError };

/** Bytes to a JSON value under the admin rules; an empty body is `{}` (as express.json). */
export function parseJsonBody(bytes: Buffer, maxDepth: number): ParsedBody {
  if (bytes.length === 0) return { ok: true, value: {} };
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return { ok: false, reason: 'text_invalid', error: invalidBody('must be UTF-8 text') };
  }
  if (jsonNestingExceeds(text, maxDepth)) return { ok: false, reason: 'json_too_deep', error: invalidBody(`nested deeper than ${maxDepth} levels (admin.maxJsonDepth)`) };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    const position = jsonErrorPosition(err instanceof Error ? err.message : '');
    return { ok: false, reason: 'json_invalid', error: invalidBody(position === undefined ? 'is not valid JSON' : `is not valid JSON (at position ${position})`) };
  }
  const problems = jsonTextProblems(value);
  if (problems.length > 0) return { ok: false, reason: 'text_invalid', error: new ValidationError('request body: invalid text', problems) };
  return { ok: true, value };
}
