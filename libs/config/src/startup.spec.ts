import { loadConfig } from './config';
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
