import type { Request, Response } from 'express';
import { PROBLEM_CONTENT_TYPE, toProblem } from '../common';

/**
 * Writes an error as problem+json from middleware (before Nest's filters). `status`
 * overrides the code's status (413 for a body over the limit); `close` ends the connection
 * after the response, so a refused request's body is never read on.
 */
export function sendProblem(req: Request, res: Response, err: unknown, o: { status?: number; close?: boolean } = {}): void {
  const problem = toProblem(err, req.originalUrl);
  if (o.status !== undefined) {
    problem.status = o.status;
    if (o.status === 413) problem.title = 'Content too large';
  }
  if (o.close === true) res.setHeader('connection', 'close');
  res.status(problem.status).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(problem));
}
