/**
 * Starts a Wharf registry for an e2e test file: a fresh Postgres database (createdb on the local
 * server) and a fresh data directory, on a port of its own. WHARF_E2E_URL points the tests at an
 * already running registry instead (e.g. Distribution 2.8 to compare behaviour).
 *
 * WHARF_E2E_SHAPE picks which Wharf: `all-in-one` (default, in-process) or `distributed` (two
 * gateways, two metadata and two blob services as separate processes over NATS; needs
 * `npm run build`). The jest project `e2e-distributed` runs the API suite with the latter.
 */
export interface TestRegistry {
  /** Base URL without trailing slash, e.g. http://127.0.0.1:34567 */
  url: string;
  /** host:port, as clients want it in image references. */
  host: string;
  dataDir?: string;
  stop(): Promise<void>;
}

export async function startTestRegistry(): Promise<TestRegistry> {
  const external = process.env.WHARF_E2E_URL;
  if (external) {
    const url = external.replace(/\/+$/, '');
    return { url, host: new URL(url).host, stop: async () => undefined };
  }
  // Loaded lazily so a run against WHARF_E2E_URL needs nothing of Wharf itself.
  if (process.env.WHARF_E2E_SHAPE === 'distributed') {
    const { startDistributedRegistry } = await import('./distributed');
    return startDistributedRegistry();
  }
  const { startInProcessRegistry } = await import('./in-process');
  return startInProcessRegistry();
}
