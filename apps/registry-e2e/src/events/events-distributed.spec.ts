/**
 * Events in the distributed shape: the metadata replicas relay the outbox to JetStream on
 * `<prefix>.events.<action>` (each event once, its id as Nats-Msg-Id) and deliver webhooks from
 * Postgres. Two metadata replicas relay concurrently; neither may duplicate or drop an event.
 * Needs `npm run build`, Postgres and NATS with JetStream.
 */
import { connect, type NatsConnection } from 'nats';
import type { RegistryEvent } from '@wharf/contracts';
import { RegistryClient, expectStatus, type PushedImage } from '../api/support/client';
import { startDistributedRegistry, type DistributedCluster } from '../support/distributed';
import { Receiver, matching } from './receiver';

interface StreamedEvent {
  subject: string;
  event: RegistryEvent;
}

async function readStream(nc: NatsConnection, stream: string): Promise<StreamedEvent[]> {
  const jsm = await nc.jetstreamManager();
  const info = await jsm.streams.info(stream);
  const out: StreamedEvent[] = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages; seq++) {
    const m = await jsm.streams.getMessage(stream, { seq });
    out.push({ subject: m.subject, event: JSON.parse(new TextDecoder().decode(m.data)) as RegistryEvent });
  }
  return out;
}

describe('events: distributed shape', () => {
  const receiver = new Receiver();
  let cluster: DistributedCluster;
  let nc: NatsConnection;
  let client: RegistryClient;

  beforeAll(async () => {
    await receiver.start();
    cluster = await startDistributedRegistry({
      replicas: { gateway: 1, metadata: 2, blob: 1 },
      env: {
        WHARF_EVENTS_WEBHOOKS: receiver.url,
        WHARF_EVENTS_WEBHOOK_BACKOFF: '100ms',
        WHARF_EVENTS_WEBHOOK_MAX_BACKOFF: '500ms',
        WHARF_EVENTS_PULL_FLUSH: '100ms',
      },
    });
    nc = await connect({ servers: cluster.env.WHARF_NATS_URL });
    client = new RegistryClient(cluster.url);
  });

  afterAll(async () => {
    client?.close();
    await cluster?.stop();
    await nc?.close();
    await receiver.stop();
  });

  it('push, pull and delete land on JetStream <prefix>.events.<action>, each once, and reach the webhook', async () => {
    const prefix = cluster.env.WHARF_NATS_PREFIX;
    const stream = `${prefix}_events`;
    const repo = 'events/distributed';
    const images: PushedImage[] = [];
    for (let i = 0; i < 4; i++) images.push(await client.pushImage(repo, { tag: `t${i}` }));
    expectStatus(await client.get(`/v2/${repo}/manifests/t0`, { Accept: images[0].mediaType }), 200);
    expectStatus(await client.delete(`/v2/${repo}/manifests/t1`), 202);

    const expected = (events: RegistryEvent[]): boolean =>
      matching(events, 'push', repo).length >= 12 &&
      matching(events, 'pull', repo).length >= 1 &&
      matching(events, 'delete', repo).length >= 1;
    await receiver.waitFor(expected);
    let streamed: StreamedEvent[] = [];
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      streamed = await readStream(nc, stream).catch(() => []);
      if (expected(streamed.map((s) => s.event))) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    for (const s of streamed) expect(s.subject).toBe(`${prefix}.events.${s.event.action}`);
    const ids = streamed.map((s) => s.event.id);
    expect(new Set(ids).size).toBe(ids.length);
    const pushes = matching(
      streamed.map((s) => s.event),
      'push',
      repo,
    );
    expect(pushes).toHaveLength(12);
    for (const image of images) {
      const [manifest] = matching(pushes, 'push', repo, { digest: image.digest });
      expect(manifest.target).toMatchObject({ mediaType: image.mediaType, size: image.manifest.length });
      expect(manifest.request).toMatchObject({ method: 'PUT' });
    }
    // The webhook saw the very same events (ids) as the stream.
    expect([...receiver.acknowledged.keys()].sort()).toEqual([...ids].sort());
  });
});
