import { LoginLimiter } from './login-limiter';

describe('failed-login limiter', () => {
  let now = 0;
  const clock = () => now;
  beforeEach(() => (now = 1_000_000));

  it('blocks a key after the limit of failures until its window ends', () => {
    const l = new LoginLimiter(3, 60_000, clock);
    for (let i = 0; i < 2; i++) l.recordFailure(['addr:1']);
    expect(l.retryAfter(['addr:1'])).toBe(0);
    l.recordFailure(['addr:1']);
    expect(l.retryAfter(['addr:1'])).toBe(60);
    now += 45_000;
    expect(l.retryAfter(['addr:1'])).toBe(15);
    now += 15_000;
    expect(l.retryAfter(['addr:1'])).toBe(0);
  });

  it('blocks when any key of a login is blocked (address or user)', () => {
    const l = new LoginLimiter(2, 10_000, clock);
    l.recordFailure(['addr:1', 'user:alice']);
    l.recordFailure(['addr:2', 'user:alice']);
    expect(l.retryAfter(['addr:3', 'user:alice'])).toBe(10);
    expect(l.retryAfter(['addr:1', 'user:bob'])).toBe(0);
  });

  it('keeps memory bounded under many distinct keys', () => {
    const l = new LoginLimiter(1, 10_000, clock, 100);
    for (let i = 0; i < 1000; i++) l.recordFailure([`addr:${i}`]);
    expect(l.retryAfter(['addr:999'])).toBe(10);
    expect((l as unknown as { windows: Map<string, unknown> }).windows.size).toBeLessThanOrEqual(100);
  });
});
