import { readFileSync, unwatchFile, watchFile } from 'node:fs';
import type { SecureContextOptions } from 'node:tls';
import { Logger } from '@nestjs/common';

export interface TlsFiles {
  certFile: string;
  keyFile: string;
}

/** Fastify's `https` option when WHARF_TLS_CERT/WHARF_TLS_KEY are set; a bad file stops the start. */
export function httpsOptions(tls: TlsFiles | undefined): { https?: SecureContextOptions } {
  if (!tls) return {};
  return { https: { cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) } };
}

/**
 * Swaps in a renewed certificate without a restart (cert-manager, a Kubernetes Secret update):
 * the files are polled, which also sees a Secret's symlink swap, and `setSecureContext` applies
 * them to new connections. A pair that does not load (the key written before the certificate, say)
 * keeps the old one until the next change. Returns the function that stops watching.
 */
export function watchTls(server: object, tls: TlsFiles, intervalMs = 2000): () => void {
  const secure = server as { setSecureContext?(options: SecureContextOptions): void };
  if (typeof secure.setSecureContext !== 'function') throw new Error('the server was not started with TLS');
  const log = new Logger('TLS');
  const reload = (): void => {
    try {
      secure.setSecureContext!({ cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) });
      log.log(`reloaded certificate ${tls.certFile}`);
    } catch (e) {
      log.error(
        `cannot reload ${tls.certFile} / ${tls.keyFile}, keeping the current one: ${(e as Error).message}`,
      );
    }
  };
  const options = { interval: intervalMs, persistent: false };
  watchFile(tls.certFile, options, reload);
  watchFile(tls.keyFile, options, reload);
  return () => {
    unwatchFile(tls.certFile, reload);
    unwatchFile(tls.keyFile, reload);
  };
}
