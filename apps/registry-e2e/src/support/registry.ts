/**
 * Starts a Wharf registry for an e2e test file: a fresh Postgres database (createdb on the local
 * server) and a fresh data directory, on a port of its own. WHARF_E2E_URL points the tests at an
 * already running registry instead (e.g. Distribution 2.8 to compare behaviour).
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
  const { startInProcessRegistry } = await import('./in-process');
  return startInProcessRegistry();
}
