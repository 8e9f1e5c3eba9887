/**
 * The harness of the pull-through cache tests on its own: the upstreams accept seed content with
 * their auth, and the tap passes, counts and breaks requests as the cache tests rely on.
 */
import { request } from 'node:http';
import { basic, tokenFor } from '../../auth/support';
import { makeArtifact, makeImage, makeIndex, seedImage, seedIndex, sha256 } from './seed';
import { UpstreamTap } from './upstream-tap';
import {
  startDistributionUpstream,
  startWharfTokenUpstream,
  type DistributionUpstream,
  type WharfTokenUpstream,
} from './upstreams';

describe('proxy test harness', () => {
  let dist: DistributionUpstream;
  let tap: UpstreamTap;
  const img = makeImage({ layerSizes: [256 * 1024] });
  const layer = img.layers[0];
  const layerPath = `/v2/lib/app/blobs/${sha256(layer)}`;
  const auth = () => basic(dist.mirror.user, dist.mirror.password);
  const blob = async () => {
    const r = await fetch(`${tap.url}${layerPath}`, { headers: auth() });
    return { status: r.status, body: Buffer.from(await r.arrayBuffer()), headers: r.headers };
  };

  beforeAll(async () => {
    dist = await startDistributionUpstream();
    tap = await UpstreamTap.start(dist.url);
    await seedImage(dist, 'lib/app', 'v1', img);
    await seedIndex(dist, 'lib/multi', 'v1', makeIndex());
    await seedImage(dist, 'lib/artifact', 'v1', makeArtifact());
  });

  afterEach(() => {
    tap.heal();
    tap.resetCounts();
  });

  afterAll(async () => {
    await tap?.stop();
    await dist?.dispose();
  });

  it('Distribution asks for Basic credentials and serves the seeded bytes through the tap', async () => {
    expect((await fetch(`${tap.url}${layerPath}`)).status).toBe(401);
    const r = await blob();
    expect(r.status).toBe(200);
    expect(sha256(r.body)).toBe(sha256(layer));
    expect(tap.count('GET', layerPath)).toBe(2);
    expect(tap.matching('GET', `/blobs/${sha256(layer)}`).map((x) => x.authorization)).toEqual([false, true]);
    const m = await fetch(`${tap.url}/v2/lib/multi/manifests/v1`, {
      headers: { ...auth(), Accept: 'application/vnd.oci.image.index.v1+json' },
    });
    expect(m.status).toBe(200);
    expect(m.headers.get('content-type')).toBe('application/vnd.oci.image.index.v1+json');
  });

  it('answers 429 with Retry-After, or 503, to everything while failing', async () => {
    tap.fail(429, '7');
    const r = await blob();
    expect([r.status, r.headers.get('retry-after')]).toEqual([429, '7']);
    expect(JSON.parse(r.body.toString()).errors[0].code).toBe('TOOMANYREQUESTS');
    tap.fail(503);
    expect((await blob()).status).toBe(503);
    tap.heal();
    expect((await blob()).status).toBe(200);
    expect(tap.count('GET', layerPath)).toBe(3);
  });

  it('refuses connections while stopped, on the same port after start', async () => {
    const port = tap.port;
    await tap.stop();
    await expect(fetch(`${tap.url}/v2/`)).rejects.toThrow();
    await tap.start();
    expect(tap.port).toBe(port);
    expect((await blob()).status).toBe(200);
  });

  it('cuts the connection when the upstream itself is down', async () => {
    await dist.stop();
    try {
      await expect(blob()).rejects.toThrow();
    } finally {
      await dist.start();
    }
    expect((await blob()).body.equals(layer)).toBe(true);
  });

  it('corrupts one blob: same length, other digest; others untouched', async () => {
    tap.corrupt(sha256(layer));
    const r = await blob();
    expect(r.status).toBe(200);
    expect(r.body.length).toBe(layer.length);
    expect(sha256(r.body)).not.toBe(sha256(layer));
    const config = await fetch(`${tap.url}/v2/lib/app/blobs/${sha256(img.config)}`, { headers: auth() });
    expect(sha256(Buffer.from(await config.arrayBuffer()))).toBe(sha256(img.config));
  });

  it('holds a blob body after N bytes until released', async () => {
    const hold = tap.hold(sha256(layer), 1000);
    const received: Buffer[] = [];
    let ended = false;
    const done = new Promise<void>((resolve, reject) => {
      const req = request(`${tap.url}${layerPath}`, { headers: auth() }, (res) => {
        res.on('data', (d: Buffer) => received.push(d));
        res.on('end', () => {
          ended = true;
          resolve();
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
    await hold.reached;
    await new Promise((r) => setTimeout(r, 300));
    expect(ended).toBe(false);
    expect(Buffer.concat(received).length).toBe(1000);
    hold.release();
    await done;
    expect(Buffer.concat(received).equals(layer)).toBe(true);
  });

  describe('Wharf in token mode as upstream', () => {
    let wharf: WharfTokenUpstream;
    let wtap: UpstreamTap;

    beforeAll(async () => {
      wharf = await startWharfTokenUpstream();
      wtap = await UpstreamTap.start(wharf.url);
    });

    afterAll(async () => {
      await wtap?.stop();
      await wharf?.dispose();
    });

    it('seeds with a push token; the mirror account pulls through the tap with a token from the realm', async () => {
      const image = makeImage();
      await seedImage(wharf, 'lib/tok', 'v1', image);
      const challenge = await fetch(`${wtap.url}/v2/lib/tok/manifests/v1`);
      expect(challenge.status).toBe(401);
      // The realm names the tap, so token requests are counted too.
      expect(challenge.headers.get('www-authenticate')).toContain(`realm="${wtap.url}/auth/token"`);
      const token = await tokenFor(wtap.url, ['repository:lib/tok:pull'], wharf.mirror);
      const r = await fetch(`${wtap.url}/v2/lib/tok/manifests/v1`, {
        headers: { Authorization: `Bearer ${token}`, Accept: image.mediaType },
      });
      expect(r.status).toBe(200);
      expect(sha256(Buffer.from(await r.arrayBuffer()))).toBe(image.digest);
      expect(wtap.count('GET', '/auth/token')).toBe(1);
    });
  });
});
