import { Writable } from 'node:stream';
import pino from 'pino';
import { PinoNestLogger } from './logger';

describe('Nest messages through pino', () => {
  const capture = () => {
    const lines: { level: number; msg: string; context?: string }[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(JSON.parse(chunk.toString()));
        done();
      },
    });
    return { lines, logger: new PinoNestLogger(pino({ level: 'info' }, sink)) };
  };

  it('keeps route mapping and module wiring below info, and everything else at its level', async () => {
    const { lines, logger } = capture();
    logger.log('Mapped {/v2, GET} route', 'RouterExplorer');
    logger.log('RegistryController {/v2}:', 'RoutesResolver');
    logger.log('GatewayModule dependencies initialized', 'InstanceLoader');
    logger.log('Nest application successfully started', 'NestApplication');
    logger.log('token service ready', 'Auth');
    logger.warn('slow start', 'RouterExplorer');
    await new Promise((r) => setImmediate(r));
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      [30, 'token service ready'],
      [40, 'slow start'],
    ]);
  });
});
