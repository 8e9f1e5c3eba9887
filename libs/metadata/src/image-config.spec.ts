import { Readable } from 'node:stream';
import { RegistryError, sha256, type ParsedManifest } from '@wharf/oci';
import { configToStore, readImageConfig } from './image-config';

const CONFIG = Buffer.from('{"architecture":"amd64","rootfs":{"type":"layers","diff_ids":[]}}');

function blobsServing(content: Buffer | (() => Readable)) {
  const opened: string[] = [];
  return {
    opened,
    openBlob: async ({ digest }: { digest: string }) => {
      opened.push(digest);
      return typeof content === 'function' ? content() : Readable.from([content]);
    },
  };
}

function dockerImage(configSize: number): ParsedManifest {
  return {
    mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
    kind: 'image',
    config: {
      mediaType: 'application/vnd.docker.container.image.v1+json',
      digest: sha256(CONFIG),
      size: configSize,
    },
    layers: [],
    manifests: [],
  };
}

describe('readImageConfig', () => {
  it('returns the bytes when they hash to the digest', async () => {
    expect((await readImageConfig(blobsServing(CONFIG), sha256(CONFIG)))?.equals(CONFIG)).toBe(true);
  });

  it('refuses bytes that do not match the digest', async () => {
    expect(await readImageConfig(blobsServing(Buffer.from('{}')), sha256(CONFIG))).toBeNull();
  });

  it('stops reading as soon as the stream passes the bound, without buffering the rest', async () => {
    let produced = 0;
    let destroyed = false;
    const endless = () => {
      const stream = new Readable({
        read() {
          produced += 1024;
          this.push(Buffer.alloc(1024, 0x20));
        },
      });
      stream.on('close', () => (destroyed = true));
      return stream;
    };
    expect(await readImageConfig(blobsServing(endless), sha256(CONFIG), 10 * 1024)).toBeNull();
    await new Promise((r) => setImmediate(r));
    expect(destroyed).toBe(true);
    // Readable's buffering reads a little ahead; the bound is what matters, not an exact count.
    expect(produced).toBeLessThan(200 * 1024);
  });

  it('lets BLOB_UNKNOWN through', async () => {
    const blobs = {
      openBlob: async () => {
        throw new RegistryError('BLOB_UNKNOWN');
      },
    };
    await expect(readImageConfig(blobs, sha256(CONFIG))).rejects.toMatchObject({ code: 'BLOB_UNKNOWN' });
  });
});

describe('configToStore', () => {
  it('keeps the config of a Docker schema2 image', async () => {
    const blobs = blobsServing(CONFIG);
    expect((await configToStore(blobs, dockerImage(CONFIG.length)))?.equals(CONFIG)).toBe(true);
  });

  it('reads nothing for an OCI manifest, which is never rewritten', async () => {
    const blobs = blobsServing(CONFIG);
    const oci = { ...dockerImage(CONFIG.length), mediaType: 'application/vnd.oci.image.manifest.v1+json' };
    expect(await configToStore(blobs, oci)).toBeNull();
    expect(blobs.opened).toEqual([]);
  });

  it('reads nothing when the descriptor announces more than 4 MiB', async () => {
    const blobs = blobsServing(CONFIG);
    expect(await configToStore(blobs, dockerImage(5 << 20))).toBeNull();
    expect(blobs.opened).toEqual([]);
  });

  it('answers null instead of failing the push when the blob service cannot read it', async () => {
    const blobs = {
      openBlob: async () => {
        throw new Error('storage down');
      },
    };
    expect(await configToStore(blobs, dockerImage(CONFIG.length))).toBeNull();
    expect(await configToStore(undefined, dockerImage(CONFIG.length))).toBeNull();
  });
});
