import { createHash, createHmac, randomBytes } from 'node:crypto';
import bcrypt from 'bcryptjs';

/**
 * htpasswd users (PROTOCOL.md §7.3): one `user:hash` per line, split at the first colon, blank
 * lines and `#` comments ignored. Only bcrypt hashes are accepted: any other entry refuses the whole
 * file, because a user whose every login fails with a bare "invalid username/password" is harder to
 * diagnose than a registry that will not start and names the line.
 */
export interface HtpasswdFile {
  users: ReadonlyMap<string, string>;
  /** Cost of the file's bcrypt entries, so an unknown user costs what a known one does. */
  cost: number;
}

const BCRYPT = /^\$2[abxy]?\$(\d{2})\$[./A-Za-z0-9]{53}$/;

export class HtpasswdError extends Error {
  constructor(file: string, line: number, problem: string) {
    super(`invalid htpasswd ${file} line ${line}: ${problem}`);
    this.name = 'HtpasswdError';
  }
}

export function parseHtpasswd(text: string, file = 'htpasswd'): HtpasswdFile {
  const users = new Map<string, string>();
  let cost = 0;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const colon = line.indexOf(':');
    if (colon <= 0) throw new HtpasswdError(file, i + 1, 'expected user:hash');
    const user = line.slice(0, colon);
    const hash = line.slice(colon + 1);
    const m = BCRYPT.exec(hash);
    if (!m)
      throw new HtpasswdError(
        file,
        i + 1,
        `user ${JSON.stringify(user)} has ${describeHash(hash)}; Wharf accepts bcrypt only: recreate it with htpasswd -B`,
      );
    users.set(user, hash);
    cost = Math.max(cost, Number(m[1]));
  });
  return { users, cost: cost || 10 };
}

/** What a rejected hash is, in the words of `htpasswd`'s own options, never echoing the hash. */
function describeHash(hash: string): string {
  if (hash.startsWith('$apr1$')) return 'an $apr1$ (MD5) hash';
  if (hash.startsWith('{SHA}')) return 'a {SHA} (SHA-1) hash';
  if (hash.startsWith('$1$')) return 'a $1$ (MD5-crypt) hash';
  if (hash.startsWith('$5$')) return 'a $5$ (SHA-256-crypt) hash';
  if (hash.startsWith('$6$')) return 'a $6$ (SHA-512-crypt) hash';
  if (/^\$2[abxy]?\$/.test(hash)) return 'a malformed bcrypt hash';
  if (hash === '') return 'an empty hash';
  return 'a crypt or plain-text password';
}

export function isBcrypt(hash: string): boolean {
  return BCRYPT.test(hash);
}

/** Identifies the password a user has now (for refresh tokens) without revealing anything of it. */
export function passwordFingerprint(hash: string): string {
  return createHash('sha256').update(hash).digest('base64url').slice(0, 22);
}

/**
 * Password checks against the current htpasswd content. Docker clients send Basic credentials on
 * every request in basic mode, and bcrypt in JavaScript costs tens of milliseconds, so a success is
 * remembered for a few minutes under an HMAC with a per-process key (never the password itself);
 * the stored hash is part of the key, so changing a password or removing a user takes effect at once.
 */
export class PasswordVerifier {
  private readonly secret = randomBytes(32);
  private readonly recent = new Map<string, number>();
  private readonly dummies = new Map<number, string>();

  constructor(
    private readonly ttlMs = 5 * 60_000,
    private readonly maxEntries = 10_000,
  ) {}

  async verify(file: HtpasswdFile, user: string, password: string): Promise<boolean> {
    const hash = file.users.get(user);
    if (hash === undefined || !isBcrypt(hash)) {
      // Same work as a real check, so response time does not tell which users exist.
      await compare(password, await this.dummy(file.cost));
      return false;
    }
    const key = createHmac('sha256', this.secret).update(`${user}\0${hash}\0${password}`).digest('base64');
    const now = Date.now();
    const until = this.recent.get(key);
    if (until !== undefined && until > now) return true;
    if (!(await compare(password, hash))) return false;
    if (this.recent.size >= this.maxEntries) {
      for (const [k, t] of this.recent) if (t <= now) this.recent.delete(k);
      if (this.recent.size >= this.maxEntries) this.recent.delete(this.recent.keys().next().value as string);
    }
    this.recent.set(key, now + this.ttlMs);
    return true;
  }

  private async dummy(cost: number): Promise<string> {
    let hash = this.dummies.get(cost);
    if (!hash) {
      hash = await bcrypt.hash(randomBytes(16).toString('hex'), Math.min(Math.max(cost, 4), 31));
      this.dummies.set(cost, hash);
    }
    return hash;
  }
}

/** A hash bcryptjs cannot read (an exotic variant) simply does not match. */
async function compare(password: string, hash: string): Promise<boolean> {
  try {
    return await bcrypt.compare(password, hash);
  } catch {
    return false;
  }
}
