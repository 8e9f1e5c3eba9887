import bcrypt from 'bcryptjs';
import { HtpasswdError, PasswordVerifier, parseHtpasswd, passwordFingerprint } from './htpasswd';

describe('htpasswd parsing', () => {
  it('reads user:hash lines, trimming, skipping blanks and comments, splitting at the first colon', () => {
    const f = parseHtpasswd('# users\n\n  alice:$2y$05$abc  \nbob:x:y\n');
    expect([...f.users.entries()]).toEqual([
      ['alice', '$2y$05$abc'],
      ['bob', 'x:y'],
    ]);
  });

  it('names the line without a colon', () => {
    expect(() => parseHtpasswd('alice:h\nnocolon\n', 'users')).toThrow(HtpasswdError);
    expect(() => parseHtpasswd('alice:h\nnocolon\n', 'users')).toThrow(/users line 2/);
  });

  it('takes the bcrypt cost from the entries, 10 by default', () => {
    expect(parseHtpasswd(`a:${bcrypt.hashSync('x', 5)}\n`).cost).toBe(5);
    expect(parseHtpasswd('a:{SHA}abc\n').cost).toBe(10);
  });
});

describe('password verification', () => {
  const file = parseHtpasswd(
    [
      `alice:${bcrypt.hashSync('wonderland', 4).replace(/^\$2b\$/, '$2y$')}`,
      'sha:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=',
      'plain:password',
    ].join('\n'),
  );

  it('accepts the right password of a $2y$ entry and refuses a wrong one', async () => {
    const v = new PasswordVerifier();
    expect(await v.verify(file, 'alice', 'wonderland')).toBe(true);
    expect(await v.verify(file, 'alice', 'Wonderland')).toBe(false);
    expect(await v.verify(file, 'alice', 'wonderland')).toBe(true);
  });

  it('never matches non-bcrypt entries, not even with the stored text as password', async () => {
    const v = new PasswordVerifier();
    expect(await v.verify(file, 'sha', 'password')).toBe(false);
    expect(await v.verify(file, 'plain', 'password')).toBe(false);
  });

  it('costs an unknown user a bcrypt comparison too', async () => {
    const v = new PasswordVerifier();
    const spy = jest.spyOn(bcrypt, 'compare');
    try {
      expect(await v.verify(file, 'mallory', 'x')).toBe(false);
      expect(spy).toHaveBeenCalledTimes(1);
      expect(String(spy.mock.calls[0][1])).toMatch(/^\$2[aby]\$/);
    } finally {
      spy.mockRestore();
    }
  });

  it('forgets a remembered success when the stored hash changes', async () => {
    const v = new PasswordVerifier();
    expect(await v.verify(file, 'alice', 'wonderland')).toBe(true);
    const changed = parseHtpasswd(`alice:${bcrypt.hashSync('new-password', 4)}\n`);
    expect(await v.verify(changed, 'alice', 'wonderland')).toBe(false);
    expect(await v.verify(changed, 'alice', 'new-password')).toBe(true);
  });

  it('fingerprints a hash without revealing it', () => {
    const hash = file.users.get('alice')!;
    expect(passwordFingerprint(hash)).toHaveLength(22);
    expect(passwordFingerprint(hash)).not.toContain(hash.slice(7, 20));
    expect(passwordFingerprint(hash)).toBe(passwordFingerprint(hash));
  });
});
