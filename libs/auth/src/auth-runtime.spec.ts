import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@nestjs/common';
import { loadConfig } from '@wharf/config';
import bcrypt from 'bcryptjs';
import { AuthRuntime, isAnonymousBasic, parseBasic, parseBearer } from './auth-runtime';

describe('auth runtime start-up', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'wharf-rt-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const config = (env: Record<string, string>) =>
    loadConfig({ WHARF_DATA_DIR: dir, WHARF_AUTH_MODE: 'basic', ...env }).auth;

  it('stops on a bad policy file, naming the key, the file and the line', async () => {
    writeFileSync(join(dir, 'users'), '');
    writeFileSync(
      join(dir, 'policy.yaml'),
      'rules:\n  - subjects: [a]\n    repositories: ["x/**"]\n    actions: [pul]\n',
    );
    await expect(
      AuthRuntime.create(
        config({ WHARF_AUTH_HTPASSWD: join(dir, 'users'), WHARF_AUTH_POLICY: join(dir, 'policy.yaml') }),
      ),
    ).rejects.toThrow(/WHARF_AUTH_POLICY: invalid policy .*policy\.yaml line 4: unknown action "pul"/);
  });

  it('stops on a missing or malformed htpasswd file', async () => {
    await expect(AuthRuntime.create(config({ WHARF_AUTH_HTPASSWD: join(dir, 'none') }))).rejects.toThrow(
      /WHARF_AUTH_HTPASSWD/,
    );
    writeFileSync(join(dir, 'users'), `alice:${bcrypt.hashSync('x', 4)}\nbroken\n`);
    await expect(AuthRuntime.create(config({ WHARF_AUTH_HTPASSWD: join(dir, 'users') }))).rejects.toThrow(
      /line 2/,
    );
  });

  it('stops on an htpasswd entry that is not bcrypt, naming the file, line, user and the fix', async () => {
    const users = join(dir, 'users');
    writeFileSync(users, `alice:${bcrypt.hashSync('x', 4)}\n\nbob:$apr1$Jd0DdT8D$5bS3ALq0EN3ZnyjM5SAAi0\n`);
    await expect(AuthRuntime.create(config({ WHARF_AUTH_HTPASSWD: users }))).rejects.toThrow(
      `WHARF_AUTH_HTPASSWD: invalid htpasswd ${users} line 3: user "bob" has an $apr1$ (MD5) hash; ` +
        'Wharf accepts bcrypt only: recreate it with htpasswd -B',
    );
  });

  it('logs each htpasswd reload, and keeps the previous users when a changed file is refused', async () => {
    const users = join(dir, 'users');
    writeFileSync(users, `alice:${bcrypt.hashSync('right', 4)}\n`);
    const rt = await AuthRuntime.create(config({ WHARF_AUTH_HTPASSWD: users }));
    const logged: string[] = [];
    const spies = (['log', 'error'] as const).map((level) =>
      jest
        .spyOn(Logger.prototype, level)
        .mockImplementation((...args: unknown[]) => void logged.push(`${level} ${String(args[0])}`)),
    );
    // The file is looked at once a second at most; a later mtime is a change.
    const later = (s: number) =>
      utimesSync(users, new Date(Date.now() + s * 1000), new Date(Date.now() + s * 1000));
    try {
      writeFileSync(
        users,
        `alice:${bcrypt.hashSync('right', 4)}\nbob:$apr1$Jd0DdT8D$5bS3ALq0EN3ZnyjM5SAAi0\n`,
      );
      later(10);
      await new Promise((r) => setTimeout(r, 1001));
      expect((await rt.login('10.0.0.1', 'alice', 'right')).ok).toBe(true);
      expect(logged).toEqual([
        expect.stringMatching(
          /^error WHARF_AUTH_HTPASSWD changed but cannot be used, keeping the previous version: .*line 2: user "bob" has an \$apr1\$/,
        ),
      ]);
      writeFileSync(users, `bob:${bcrypt.hashSync('builder', 4)}\ncarol:${bcrypt.hashSync('c', 4)}\n`);
      later(20);
      await new Promise((r) => setTimeout(r, 1001));
      expect((await rt.login('10.0.0.1', 'bob', 'builder')).ok).toBe(true);
      expect(logged[1]).toBe(`log WHARF_AUTH_HTPASSWD ${users} reloaded: 2 users`);
    } finally {
      spies.forEach((s) => s.mockRestore());
    }
  });

  it('stops when a configured token key is missing, and generates one when none is configured', async () => {
    await expect(
      AuthRuntime.create(config({ WHARF_AUTH_MODE: 'token', WHARF_AUTH_TOKEN_KEY: join(dir, 'nokey.pem') })),
    ).rejects.toThrow(/nokey\.pem/);
    const logged: string[] = [];
    const spy = jest
      .spyOn(Logger.prototype, 'log')
      .mockImplementation((...args: unknown[]) => void logged.push(String(args[0])));
    try {
      const rt = await AuthRuntime.create(config({ WHARF_AUTH_MODE: 'token' }));
      expect(rt.signingKey?.alg).toBe('ES256');
      await AuthRuntime.create(config({ WHARF_AUTH_MODE: 'token' }));
    } finally {
      spy.mockRestore();
    }
    const keyFile = loadConfig({ WHARF_DATA_DIR: dir, WHARF_AUTH_MODE: 'token' }).auth!.tokenKeyFile;
    expect(logged).toEqual([
      expect.stringMatching(
        new RegExp(`^token service ready \\(ES256, kid \\S+, generated new key ${keyFile}\\)$`),
      ),
      expect.stringMatching(new RegExp(`^token service ready \\(ES256, kid \\S+, key ${keyFile}\\)$`)),
    ]);
  });

  it('logs a failed login without the password, and without a user name nobody has', async () => {
    writeFileSync(join(dir, 'users'), `alice:${bcrypt.hashSync('right', 4)}\n`);
    const rt = await AuthRuntime.create(config({ WHARF_AUTH_HTPASSWD: join(dir, 'users') }));
    const logged: string[] = [];
    const spies = (['log', 'warn', 'error', 'debug', 'verbose'] as const).map((level) =>
      jest
        .spyOn(Logger.prototype, level)
        .mockImplementation((...args: unknown[]) => void logged.push(String(args[0]))),
    );
    try {
      expect((await rt.login('10.0.0.1', 'alice', 'hunter2-secret')).ok).toBe(false);
      expect((await rt.login('10.0.0.1', 'hunter3-secret', 'x')).ok).toBe(false);
      expect((await rt.login('10.0.0.1', 'alice', 'right')).ok).toBe(true);
    } finally {
      spies.forEach((s) => s.mockRestore());
    }
    expect(logged).toHaveLength(2);
    expect(logged.join('\n')).not.toMatch(/hunter|right/);
    expect(logged[0]).toContain('user alice');
    expect(logged[1]).toContain('an unknown user');
  });

  it('is disabled in mode none', async () => {
    expect((await AuthRuntime.create(loadConfig({ WHARF_DATA_DIR: dir }).auth)).enabled).toBe(false);
    expect((await AuthRuntime.create(undefined)).enabled).toBe(false);
  });
});

describe('authorization headers', () => {
  it('splits Basic credentials at the first colon', () => {
    const h = `Basic ${Buffer.from('alice:pa:ss').toString('base64')}`;
    expect(parseBasic(h)).toEqual({ user: 'alice', password: 'pa:ss' });
    expect(parseBasic('Basic !!!')).toBeUndefined();
    expect(parseBasic(`Basic ${Buffer.from('nocolon').toString('base64')}`)).toBeUndefined();
  });

  it('treats empty Basic credentials as anonymous', () => {
    expect(isAnonymousBasic(`Basic ${Buffer.from(':').toString('base64')}`)).toBe(true);
    expect(isAnonymousBasic(`Basic ${Buffer.from('a:').toString('base64')}`)).toBe(false);
  });

  it('reads a Bearer token', () => {
    expect(parseBearer('Bearer abc.def.ghi')).toBe('abc.def.ghi');
    expect(parseBearer('bearer  abc.def.ghi ')).toBe('abc.def.ghi');
    expect(parseBearer('Bearer a b')).toBeUndefined();
  });
});
