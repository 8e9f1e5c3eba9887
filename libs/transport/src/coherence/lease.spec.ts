import { CacheLease, type LeaseRenewal } from './lease';

const opts = { leaseMs: 200, renewEveryMs: 50 };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('CacheLease', () => {
  it('is not usable before its first renewal, and flushes before it first becomes usable', async () => {
    const flushes: number[] = [];
    const lease = new CacheLease(
      async () => ({ lost: false }),
      () => flushes.push(1),
      opts,
    );
    expect(lease.usable()).toBe(false);
    await lease.renewOnce();
    expect(lease.usable()).toBe(true);
    expect(flushes).toHaveLength(1);
    await lease.renewOnce();
    expect(flushes).toHaveLength(1);
  });

  it('runs out by itself when renewals fail, and flushes when one succeeds again', async () => {
    let fail = false;
    let flushes = 0;
    const lease = new CacheLease(
      async (): Promise<LeaseRenewal> => {
        if (fail) throw new Error('no route');
        return { lost: false };
      },
      () => flushes++,
      opts,
    );
    await lease.renewOnce();
    fail = true;
    await lease.renewOnce();
    expect(lease.usable()).toBe(true);
    await sleep(opts.leaseMs);
    expect(lease.usable()).toBe(false);
    fail = false;
    await lease.renewOnce();
    expect(lease.usable()).toBe(true);
    expect(flushes).toBe(2);
  });

  it('flushes when the registry says the lease was lost (revoked by a writer)', async () => {
    let lost = false;
    let flushes = 0;
    const lease = new CacheLease(
      async () => ({ lost }),
      () => flushes++,
      opts,
    );
    await lease.renewOnce();
    lost = true;
    await lease.renewOnce();
    expect(flushes).toBe(2);
    expect(lease.usable()).toBe(true);
  });

  it('stops answering at once when dropped (the invalidations connection broke)', async () => {
    let flushes = 0;
    const lease = new CacheLease(
      async () => ({ lost: false }),
      () => flushes++,
      opts,
    );
    await lease.renewOnce();
    lease.drop();
    expect(lease.usable()).toBe(false);
    await lease.renewOnce();
    expect(lease.usable()).toBe(true);
    expect(flushes).toBe(2);
  });

  it('counts from when the renewal was sent, so a slow answer buys no extra time', async () => {
    const lease = new CacheLease(
      async () => {
        await sleep(150);
        return { lost: false };
      },
      () => undefined,
      opts,
    );
    await lease.renewOnce();
    expect(lease.usable()).toBe(true);
    await sleep(60);
    // 150 ms answer + 60 ms > 0.9 × 200 ms from the send.
    expect(lease.usable()).toBe(false);
  });
});
