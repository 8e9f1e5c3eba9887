import bcrypt from 'bcryptjs';
import { HtpasswdError, PasswordVerifier, parseHtpasswd, passwordFingerprint } from './htpasswd';

describe('htpasswd parsing', () => {
  const alice = bcrypt.hashSync('wonderland', 4).replace(/^\$2b\$/, '$2y$');
  const bob = bcrypt.hashSync('builder', 5);

  it('reads user:hash lines, trimming, skipping blanks and comments, splitting at the first colon', () => {
    const f = parseHtpasswd(`# users\n\n  alice:${alice}  \nbob:${bob}\n`);
    expect([...f.users.entries()]).toEqual([
      ['alice', alice],
      ['bob', bob],
    ]);
  });

  it('names the line without a colon', () => {
    expect(() => parseHtpasswd(`alice:${alice}\nnocolon\n`, 'users')).toThrow(HtpasswdError);
    expect(() => parseHtpasswd(`alice:${alice}\nnocolon\n`, 'users')).toThrow(/users line 2/);
  });

  it('takes the bcrypt cost from the entries, 10 for an empty file', () => {
    expect(parseHtpasswd(`a:${alice}\nb:${bob}\n`).cost).toBe(5);
    expect(parseHtpasswd('# nobody yet\n').cost).toBe(10);
  });

  it.each([
    ['$apr1$Jd0DdT8D$5bS3ALq0EN3ZnyjM5SAAi0', /an \$apr1\$ \(MD5\) hash/],
    ['{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=', /a \{SHA\} \(SHA-1\) hash/],
    ['$6$salt$hash', /a \$6\$ \(SHA-512-crypt\) hash/],
    ['$2y$05$abc', /a malformed bcrypt hash/],
    ['password', /a crypt or plain-text password/],
  ])('refuses the file when an entry is %s, naming line, user and the fix', (hash, kind) => {
    const text = `# users\nalice:${alice}\nbob:${hash}\n`;
    expect(() => parseHtpasswd(text, '/etc/wharf/htpasswd')).toThrow(HtpasswdError);
    expect(() => parseHtpasswd(text, '/etc/wharf/htpasswd')).toThrow(
      /^invalid htpasswd \/etc\/wharf\/htpasswd line 3: user "bob" has /,
    );
    expect(() => parseHtpasswd(text)).toThrow(kind);
    expect(() => parseHtpasswd(text)).toThrow(/Wharf accepts bcrypt only: recreate it with htpasswd -B$/);
  });

  it('never echoes the rejected hash', () => {
    expect(() => parseHtpasswd('bob:$apr1$Jd0DdT8D$5bS3ALq0EN3ZnyjM5SAAi0\n')).not.toThrow(/5bS3ALq0/);
    expect(() => parseHtpasswd('bob:hunter2\n')).not.toThrow(/hunter2/);
  });
});

describe('password verification', () => {
  const file = parseHtpasswd(`alice:${bcrypt.hashSync('wonderland', 4).replace(/^\$2b\$/, '$2y$')}\n`);

  it('accepts the right password of a $2y$ entry and refuses a wrong one', async () => {
    const v = new PasswordVerifier();
    expect(await v.verify(file, 'alice', 'wonderland')).toBe(true);
    expect(await v.verify(file, 'alice', 'Wonderland')).toBe(false);
    expect(await v.verify(file, 'alice', 'wonderland')).toBe(true);
  });

  it('never matches a non-bcrypt hash handed to it directly, not even with the stored text as password', async () => {
    const v = new PasswordVerifier();
    const unchecked = { users: new Map([['plain', 'password']]), cost: 4 };
    expect(await v.verify(unchecked, 'plain', 'password')).toBe(false);
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
