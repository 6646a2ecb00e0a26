import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { Gauge } from 'prom-client';
import { PROBLEM_CONTENT_TYPE, toProblem } from '../common';
import { ParleyError } from '../common';
import type { ReadinessRegistry } from './domain/readiness';

export interface OpsServerOptions {
  host: string;
  port: number;
  readinessTimeoutMs: number;
  readiness: ReadinessRegistry;
  metrics: Registry;
  logger: Logger;
}

/**
 * The ops listener (plain HTTP, loopback by default): /healthz (process alive), /readyz
 * (every registered readiness check, 503 with reasons when one fails), /metrics (Prometheus).
 */
export class OpsServer {
  private server?: Server;
  private readonly readyGauge: Gauge;

  constructor(private readonly options: OpsServerOptions) {
    this.readyGauge = new Gauge({ name: 'parley_ready', help: '1 when every critical readiness check passes', registers: [options.metrics] });
  }

  async listen(): Promise<{ host: string; port: number }> {
    const server = createServer((req, res) => void this.handle(req, res));
    server.keepAliveTimeout = 5000;
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        const where = `${this.options.host}:${this.options.port}`;
        if (err.code === 'EADDRINUSE') reject(new ParleyError('config_invalid', `ops.port: ${where} is already in use`, { cause: err }));
        else if (err.code === 'EACCES') reject(new ParleyError('config_invalid', `ops.port: no permission to listen on ${where}`, { cause: err }));
        else reject(new ParleyError('unavailable', `ops listener: cannot listen on ${where}: ${err.code ?? err.message}`, { cause: err }));
      });
      server.listen(this.options.port, this.options.host, () => resolve());
    });
    const address = server.address();
    return { host: this.options.host, port: typeof address === 'object' && address ? address.port : this.options.port };
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = (req.headers['x-request-id'] as string | undefined)?.slice(0, 128) || randomUUID();
    res.setHeader('x-request-id', requestId);
    const path = (req.url ?? '/').split('?')[0];
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.setHeader('allow', 'GET, HEAD');
        return sendProblem(res, 405, 'method not allowed', path);
      }
      switch (path) {
        case '/healthz':
          return sendJson(res, 200, { status: 'ok' });
        case '/readyz': {
          const report = await this.options.readiness.evaluate(this.options.readinessTimeoutMs);
          this.readyGauge.set(report.ready ? 1 : 0);
          return sendJson(res, report.ready ? 200 : 503, { status: report.ready ? 'ready' : 'not ready', checks: report.checks });
        }
        case '/metrics': {
          const body = await this.options.metrics.metrics();
          res.writeHead(200, { 'content-type': this.options.metrics.contentType });
          res.end(body);
          return;
        }
        default:
          return sendProblem(res, 404, `no such ops endpoint: ${path}`, path);
      }
    } catch (err) {
      this.options.logger.error({ err, requestId, path }, 'ops request failed');
      if (!res.headersSent) sendJson(res, 500, toProblem(err, path), PROBLEM_CONTENT_TYPE);
      else res.end();
    }
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown, contentType = 'application/json'): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store' });
  res.end(text);
}

function sendProblem(res: ServerResponse, status: 404 | 405, detail: string, path: string): void {
  const code = status === 404 ? 'not_found' : 'invalid_argument';
  const problem = { ...toProblem(new ParleyError(code, detail), path), status, title: status === 405 ? 'Method not allowed' : 'Not found' };
  sendJson(res, status, problem, PROBLEM_CONTENT_TYPE);
}
