/**
 * At-least-once across a crash: the built all-in-one registry is killed with SIGKILL while a webhook
 * delivery is in flight (the receiver holds the request open); after a restart every event still
 * arrives, the interrupted one again under the same id. Needs `npm run build`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RegistryClient, expectStatus, type PushedImage } from '../api/support/client';
import { createTestDatabase } from '../support/in-process';
import { spawnRegistry, type RegistryProcess } from '../support/process';
import { Receiver, matching } from './receiver';

describe('events: registry killed mid-delivery', () => {
  const receiver = new Receiver();
  const db = createTestDatabase();
  const dataDir = mkdtempSync(join(tmpdir(), 'wharf-events-crash-'));
  let proc: RegistryProcess | undefined;

  const env = (): Record<string, string> => ({
    WHARF_DATABASE_URL: db.url,
    WHARF_EVENTS_WEBHOOKS: receiver.url,
    // Long enough that the held request is still in flight when the process dies.
    WHARF_EVENTS_WEBHOOK_TIMEOUT: '5m',
    WHARF_EVENTS_WEBHOOK_BACKOFF: '100ms',
    WHARF_EVENTS_WEBHOOK_MAX_BACKOFF: '500ms',
    WHARF_LOG_LEVEL: 'warn',
  });

  beforeAll(async () => {
    await receiver.start();
  });

  afterAll(async () => {
    if (proc && proc.child.exitCode === null && proc.child.signalCode === null) {
      proc.child.kill('SIGKILL');
      await proc.exited;
    }
    await receiver.stop();
    db.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('every event is delivered after a restart, the interrupted one again with the same id', async () => {
    receiver.mode = 'hang';
    proc = await spawnRegistry(dataDir, undefined, env());
    const client = new RegistryClient(proc.url);
    const repo = 'events/crash';
    const images: PushedImage[] = [];
    for (let i = 0; i < 3; i++) images.push(await client.pushImage(repo, { tag: `t${i}` }));
    expectStatus(await client.delete(`/v2/${repo}/manifests/t2`), 202);
    client.close();

    const deadline = Date.now() + 20_000;
    while (!receiver.requests.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(receiver.requests.length).toBeGreaterThan(0);
    const interrupted = receiver.requests.flatMap((r) => r.events.map((e) => e.id));

    proc.child.kill('SIGKILL');
    expect(await proc.exited).toBe('SIGKILL');
    expect(receiver.acknowledged.size).toBe(0);

    receiver.mode = 'ok';
    proc = await spawnRegistry(dataDir, undefined, env());
    const acked = await receiver.waitFor(
      (a) => matching(a, 'push', repo).length >= 9 && matching(a, 'delete', repo).length >= 1,
    );
    for (const image of images) {
      expect(matching(acked, 'push', repo, { digest: image.digest })).toHaveLength(1);
      for (const d of [image.config.digest, ...image.layers.map((l) => l.digest)])
        expect(matching(acked, 'push', repo, { digest: d })).toHaveLength(1);
    }
    expect(matching(acked, 'delete', repo, { tag: 't2' })).toHaveLength(1);
    // The event whose delivery was cut off came again, under the id the receiver first saw.
    expect(acked.map((e) => e.id)).toEqual(expect.arrayContaining(interrupted));
  });
});
