/**
 * The Wharf under test, configured as a pull-through cache (WHARF_PROXY_CONFIG), in either shape:
 * the all-in-one in this process, or the distributed shape (separate processes, the built dist/),
 * picked by the caller or WHARF_E2E_SHAPE. Both can be restarted on the same database and data.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DistributedCluster, Role } from '../../support/distributed';
import type { TestRegistry } from '../../support/registry';

export interface UpstreamEntry {
  name: string;
  url: string;
  hosts?: string[];
  defaultNamespace?: string;
  username?: string;
  password?: string;
  /** e.g. `2s` */
  tagTTL?: string;
  default?: boolean;
}

export type Shape = 'all-in-one' | 'distributed';

export function shapeFromEnv(): Shape {
  return process.env.WHARF_E2E_SHAPE === 'distributed' ? 'distributed' : 'all-in-one';
}

/** YAML as the design spells it; values quoted as JSON strings (valid YAML). */
export function proxyConfigYaml(upstreams: UpstreamEntry[]): string {
  const lines = ['upstreams:'];
  for (const u of upstreams) {
    lines.push(`  - name: ${JSON.stringify(u.name)}`);
    lines.push(`    url: ${JSON.stringify(u.url)}`);
    if (u.hosts) lines.push(`    hosts: [${u.hosts.map((h) => JSON.stringify(h)).join(', ')}]`);
    if (u.defaultNamespace) lines.push(`    defaultNamespace: ${JSON.stringify(u.defaultNamespace)}`);
    if (u.username) lines.push(`    username: ${JSON.stringify(u.username)}`);
    if (u.password) lines.push(`    password: ${JSON.stringify(u.password)}`);
    if (u.tagTTL) lines.push(`    tagTTL: ${JSON.stringify(u.tagTTL)}`);
    if (u.default) lines.push('    default: true');
  }
  return lines.join('\n') + '\n';
}

export interface ProxyWharf extends TestRegistry {
  shape: Shape;
  /** Stops every Wharf process (or the in-process registry) and starts it again, same port and data. */
  restart(): Promise<void>;
  /** The distributed shape's gateways (each its own URL); the all-in-one's URL otherwise. */
  gateways: string[];
  /** Server output (distributed shape) for failure messages. */
  logs(): string;
}

export async function startProxyWharf(
  upstreams: UpstreamEntry[],
  opts: { shape?: Shape; env?: Record<string, string> } = {},
): Promise<ProxyWharf> {
  const shape = opts.shape ?? shapeFromEnv();
  const configDir = mkdtempSync(join(tmpdir(), 'wharf-proxy-config-'));
  const configFile = join(configDir, 'proxy.yaml');
  writeFileSync(configFile, proxyConfigYaml(upstreams));
  const env = { WHARF_PROXY_CONFIG: configFile, ...opts.env };
  const cleanup = () => rmSync(configDir, { recursive: true, force: true });
  if (shape === 'all-in-one') {
    const { startInProcessRegistry } = await import('../../support/in-process');
    const r = await startInProcessRegistry(env).catch((e: unknown) => {
      cleanup();
      throw e;
    });
    return {
      ...r,
      shape,
      restart: () => r.restart(),
      gateways: [r.url],
      logs: () => '',
      stop: async () => {
        await r.stop();
        cleanup();
      },
    };
  }
  const { startDistributedRegistry, stopProcess } = await import('../../support/distributed');
  const cluster: DistributedCluster = await startDistributedRegistry({ env }).catch((e: unknown) => {
    cleanup();
    throw e;
  });
  return {
    url: cluster.url,
    host: cluster.host,
    dataDir: cluster.dataDir,
    shape,
    gateways: cluster.gateways,
    logs: () =>
      Object.values(cluster.services)
        .flat()
        .map((p) => `--- ${p.role} ${p.port} ---\n${p.output().slice(-4000)}`)
        .join('\n'),
    restart: async () => {
      const all = Object.values(cluster.services).flat();
      await Promise.all(all.map((p) => stopProcess(p)));
      for (const role of ['blob', 'metadata', 'gateway'] as Role[]) {
        await Promise.all([...cluster.services[role]].map((p) => cluster.restart(p)));
      }
    },
    stop: async () => {
      await cluster.stop();
      cleanup();
    },
  };
}

// ---- HTTP against the cache ------------------------------------------------------------------

export interface Answer {
  status: number;
  headers: Headers;
  body: Buffer;
  /** First registry error code of a JSON error body. */
  code?: string;
  message?: string;
}

export async function get(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: Buffer | string } = {},
): Promise<Answer> {
  const r = await fetch(url, {
    method: init.method ?? 'GET',
    headers: init.headers,
    body: init.body,
    redirect: 'follow',
  });
  const body = Buffer.from(await r.arrayBuffer());
  let code: string | undefined;
  let message: string | undefined;
  if (r.status >= 400 && body.length) {
    try {
      const e = JSON.parse(body.toString()).errors?.[0];
      code = e?.code;
      message = e?.message;
    } catch {
      // not JSON
    }
  }
  return { status: r.status, headers: r.headers, body, code, message };
}

/** One line per answer for expectations that should say what came back. */
export function describeAnswer(a: Answer): string {
  return `${a.status} ${a.code ?? ''} ${a.message ?? a.body.subarray(0, 200).toString()}`.trim();
}

export interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  received: Buffer;
  /** The body ended normally with every byte Content-Length announced. */
  complete: boolean;
}

/**
 * A GET read with node:http, so a response cut short is seen as such (fetch would only throw).
 * `abortAfter`: destroy the request once that many body bytes arrived; `signal`: whenever it fires
 * (a client going away). A request that fails before any answer rejects.
 */
export function rawGet(
  url: string,
  opts: { headers?: Record<string, string>; abortAfter?: number; signal?: AbortSignal } = {},
): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: opts.headers, signal: opts.signal }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let settled = false;
      const finish = (complete: boolean) => {
        if (settled) return;
        settled = true;
        const received = Buffer.concat(chunks);
        const announced = Number(res.headers['content-length'] ?? NaN);
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          received,
          complete: complete && (Number.isNaN(announced) || announced === received.length),
        });
      };
      res.on('data', (d: Buffer) => {
        chunks.push(d);
        size += d.length;
        if (opts.abortAfter !== undefined && size >= opts.abortAfter) {
          req.destroy();
          finish(false);
        }
      });
      res.on('end', () => finish(true));
      res.on('aborted', () => finish(false));
      res.on('error', () => finish(false));
      res.on('close', () => finish(res.complete));
    });
    req.on('error', (e) => reject(e));
    req.end();
  });
}

/** Fails with the request and the answer when the status is not `status`. */
export function expectStatus(a: Answer, status: number, request: string): void {
  if (a.status !== status) throw new Error(`${request}: expected ${status}, got ${describeAnswer(a)}`);
}
