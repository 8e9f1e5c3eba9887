/**
 * Looks at what the filesystem driver left on disk (layout: libs/storage/src/filesystem/paths.ts).
 * The all-in-one registry's storage root defaults to `<dataDir>/blobs`:
 *   <root>/blobs/<alg>/<first 2 hex>/<hex>/data   committed blobs
 *   <root>/uploads/<id>                            uploads in progress
 *   <root>/tmp/<uuid>                              staging
 *   <root>/store-id                                the store's identity (distributed blob services)
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { TestRegistry } from '../../support/registry';

export function storageRoot(registry: TestRegistry): string {
  if (!registry.dataDir) throw new Error('these checks need the in-process registry (no WHARF_E2E_URL)');
  return join(registry.dataDir, 'blobs');
}

export function blobDataPath(registry: TestRegistry, digest: string): string {
  const [alg, hex] = digest.split(':');
  return join(storageRoot(registry), 'blobs', alg, hex.slice(0, 2), hex, 'data');
}

/** Every file under `dir`, relative to it; [] when `dir` does not exist. */
export function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const entry of readdirSync(d)) {
      const p = join(d, entry);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}

export function uploadsLeft(registry: TestRegistry): string[] {
  return filesUnder(join(storageRoot(registry), 'uploads'));
}

/** Files of committed blobs, as `<alg>/<2>/<hex>/data`. */
export function storedBlobFiles(registry: TestRegistry): string[] {
  return filesUnder(join(storageRoot(registry), 'blobs'));
}

export function uploadFileExists(registry: TestRegistry, id: string): boolean {
  return existsSync(join(storageRoot(registry), 'uploads', id));
}
