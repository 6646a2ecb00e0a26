import { PassThrough } from 'node:stream';
import { createLogger, PinoNestLogger } from './logger';

function capture(level: 'info' | 'debug'): { nest: PinoNestLogger; lines: () => Array<{ level: number; context?: string; msg: string }> } {
  const out = new PassThrough();
  let text = '';
  out.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
  const nest = new PinoNestLogger(createLogger({ level, format: 'json' }, out).child({ component: 'nest' }));
  return { nest, lines: () => text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { level: number; context?: string; msg: string }) };
}

describe('PinoNestLogger', () => {
  it("puts Nest's module loading and route mapping at debug; other Nest logs stay at info", async () => {
    const info = capture('info');
    info.nest.log('AppModule dependencies initialized', 'InstanceLoader');
    info.nest.log('Mapped {/v1/policies, GET} route', 'RouterExplorer');
    info.nest.log('PoliciesController {/}:', 'RoutesResolver');
    info.nest.log('Nest application successfully started', 'NestApplication');
    info.nest.log('casbin policy imported', 'admin');
    await new Promise((r) => setImmediate(r));
    expect(info.lines().map((l) => [l.level, l.context, l.msg])).toEqual([[30, 'admin', 'casbin policy imported']]);

    const debug = capture('debug');
    debug.nest.log('Mapped {/v1/policies, GET} route', 'RouterExplorer');
    await new Promise((r) => setImmediate(r));
    expect(debug.lines().map((l) => [l.level, l.context])).toEqual([[20, 'RouterExplorer']]);
  });
});
