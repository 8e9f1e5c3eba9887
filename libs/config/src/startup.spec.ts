import { Writable } from 'node:stream';
import pino from 'pino';
import { loadConfig } from './config';
import { PinoNestLogger } from './logger';
import { exposureWarning, startupLine } from './startup';

describe('start-up log', () => {
  it('puts the essentials in the message and in fields', () => {
    const line = startupLine('wharf registry', 'http://127.0.0.1:5000', {
      auth: 'basic',
      dataDir: '/var/lib/wharf',
    });
    expect(line.msg).toBe(
      'wharf registry listening on http://127.0.0.1:5000 (auth basic, dataDir /var/lib/wharf)',
    );
    expect(line.fields).toEqual({ url: 'http://127.0.0.1:5000', auth: 'basic', dataDir: '/var/lib/wharf' });
  });

  it.each([
    [':5000', 'none', true],
    ['0.0.0.0:5000', 'none', true],
    ['[::]:5000', 'none', true],
    ['127.0.0.1:5000', 'none', false],
    [':5000', 'basic', false],
  ])('warns about WHARF_HTTP_ADDR=%s with WHARF_AUTH_MODE=%s: %s', (addr, mode, warns) => {
    const env: Record<string, string> = {
      WHARF_DATA_DIR: '/tmp/wharf-x',
      WHARF_HTTP_ADDR: addr,
      WHARF_AUTH_MODE: mode,
    };
    if (mode === 'basic') env.WHARF_AUTH_HTPASSWD = '/etc/wharf/htpasswd';
    const warning = exposureWarning(loadConfig(env));
    if (warns)
      expect(warning).toMatch(/every interface \(port 5000\) with WHARF_AUTH_MODE=none.*127\.0\.0\.1:5000/);
    else expect(warning).toBeUndefined();
  });
});

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
