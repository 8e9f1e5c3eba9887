import { generateKeyPairSync, randomBytes, type JsonWebKey } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getManifest, keyIdOf, pushImage, sha256, startWharf, verifyJwsIndependently } from './support';

// The schema1 signing key: generated once and kept in the data directory by the all-in-one, or read
// from WHARF_SCHEMA1_SIGNING_KEY. Distribution 2.8 makes a new one at every start; Wharf does not.

function smallImage() {
  const layer = randomBytes(32);
  return {
    config: Buffer.from(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        rootfs: { type: 'layers', diff_ids: [sha256(layer)] },
        history: [{ created_by: 'ADD x /' }, { created_by: 'CMD', empty_layer: true }],
      }),
    ),
    layers: [layer],
  };
}

describe('schema1 signing key', () => {
  it('is generated once into <dataDir>/keys, private to the owner, and survives a restart', async () => {
    const first = await startWharf();
    let second: Awaited<ReturnType<typeof startWharf>> | undefined;
    try {
      await pushImage(first.url, 'keys/app', 'v1', smallImage());
      const before = verifyJwsIndependently((await getManifest(first.url, 'keys/app', 'v1')).body);
      const keyFile = join(first.dataDir, 'keys', 'schema1-signing.pem');
      expect(statSync(keyFile).mode & 0o777).toBe(0o600);
      await first.stop({ keep: true });

      second = await startWharf({}, first);
      const after = verifyJwsIndependently((await getManifest(second.url, 'keys/app', 'v1')).body);
      expect(after.kids).toEqual(before.kids);
      expect(after.digest).toBe(before.digest);
    } finally {
      await (second ?? first).stop();
    }
  });

  it('is read from WHARF_SCHEMA1_SIGNING_KEY when set, and then none is generated', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wharf-s1-keyfile-'));
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const keyFile = join(dir, 'schema1.pem');
    writeFileSync(keyFile, privateKey.export({ format: 'pem', type: 'sec1' }), { mode: 0o600 });
    const wharf = await startWharf({ WHARF_SCHEMA1_SIGNING_KEY: keyFile });
    try {
      await pushImage(wharf.url, 'keys/app', 'v1', smallImage());
      const jws = verifyJwsIndependently((await getManifest(wharf.url, 'keys/app', 'v1')).body);
      expect(jws.kids).toEqual([keyIdOf(publicKey.export({ format: 'jwk' }) as JsonWebKey)]);
      expect(existsSync(join(wharf.dataDir, 'keys', 'schema1-signing.pem'))).toBe(false);
    } finally {
      await wharf.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('stops the start with an error naming WHARF_SCHEMA1_SIGNING_KEY when the file is not a key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wharf-s1-keyfile-'));
    writeFileSync(join(dir, 'bad.pem'), 'not a key');
    try {
      await expect(startWharf({ WHARF_SCHEMA1_SIGNING_KEY: join(dir, 'bad.pem') })).rejects.toThrow(
        /WHARF_SCHEMA1_SIGNING_KEY/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
