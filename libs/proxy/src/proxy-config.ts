import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseDuration } from '@wharf/oci';
import { LineCounter, isMap, isScalar, isSeq, parseDocument, type Node as YamlNode } from 'yaml';

/**
 * The pull-through cache's upstreams (WHARF_PROXY_CONFIG). Example:
 *
 *   upstreams:
 *     - name: hub
 *       url: https://registry-1.docker.io
 *       hosts: [docker.io]
 *       defaultNamespace: library
 *       default: true
 *     - name: ghcr
 *       url: https://ghcr.io
 *       username: bot
 *       passwordFile: /run/secrets/ghcr
 *       tagTTL: 1m
 */
export interface UpstreamConfig {
  /** First segment of local names: local `hub/<path>` is `<path>` upstream. */
  name: string;
  /** Origin (+ optional path prefix) without trailing slash, http: or https:. */
  url: string;
  /** Hosts containerd names in `?ns=`; by default the host[:port] of `url` as written. */
  hosts: string[];
  /** Put in front of a one-segment path (hub/nginx -> library/nginx). */
  defaultNamespace?: string;
  username?: string;
  password?: string;
  tagTtlMs: number;
  /** Serves names outside every upstream's prefix (docker's registry-mirrors); at most one. */
  default: boolean;
}

export interface ProxyConfig {
  upstreams: UpstreamConfig[];
}

export class ProxyConfigError extends Error {
  constructor(file: string, line: number | undefined, problem: string) {
    super(`invalid proxy config ${file}${line ? ` line ${line}` : ''}: ${problem}`);
    this.name = 'ProxyConfigError';
  }
}

export const DEFAULT_TAG_TTL = '5m';

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*$/;
const HOST =
  /^(?:[a-z0-9]([a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*|\[[0-9a-f:.]+\])(?::\d{1,5})?$/;
const UPSTREAM_KEYS = [
  'name',
  'url',
  'hosts',
  'defaultNamespace',
  'username',
  'password',
  'passwordFile',
  'tagTTL',
  'default',
];

export function loadProxyConfig(file: string): ProxyConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ProxyConfigError(file, undefined, `cannot read it: ${(e as Error).message}`);
  }
  return parseProxyConfig(text, file);
}

/** Parses and validates a proxy config; every error names the line that is wrong. */
export function parseProxyConfig(text: string, file: string): ProxyConfig {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true });
  const fail = (node: unknown, problem: string): never => {
    const offset = (node as YamlNode | null | undefined)?.range?.[0];
    // An empty document has no node to point at; its first line is where `upstreams:` belongs.
    throw new ProxyConfigError(file, offset === undefined ? 1 : lines.linePos(offset).line, problem);
  };
  if (doc.errors.length) {
    const e = doc.errors[0];
    throw new ProxyConfigError(file, e.linePos?.[0].line ?? 1, e.message.split('\n')[0]);
  }
  const root = doc.contents;
  if (!isMap(root)) return fail(root, 'expected a mapping with `upstreams:`');
  let upstreamsNode: unknown;
  for (const pair of root.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : '';
    if (key === 'upstreams') upstreamsNode = pair.value;
    else fail(pair.key, `unknown key "${key}" (expected upstreams)`);
  }
  if (!isSeq(upstreamsNode) || upstreamsNode.items.length === 0)
    return fail(upstreamsNode ?? root, '`upstreams:` must be a non-empty list of upstreams');

  const baseDir = dirname(resolve(file));
  const upstreams = upstreamsNode.items.map((item) => parseUpstream(item, baseDir, fail));

  const names = new Set<string>();
  const hosts = new Map<string, string>();
  let defaultName: string | undefined;
  upstreamsNode.items.forEach((item, i) => {
    const u = upstreams[i];
    if (names.has(u.name)) fail(item, `upstream name "${u.name}" is used twice`);
    names.add(u.name);
    for (const host of u.hosts) {
      const other = hosts.get(host);
      if (other !== undefined) fail(item, `host "${host}" is listed by upstreams "${other}" and "${u.name}"`);
      hosts.set(host, u.name);
    }
    if (u.default) {
      if (defaultName !== undefined)
        fail(item, `only one upstream may be the default ("${defaultName}" already is)`);
      defaultName = u.name;
    }
  });
  return { upstreams };
}

function parseUpstream(
  item: unknown,
  baseDir: string,
  fail: (node: unknown, problem: string) => never,
): UpstreamConfig {
  if (!isMap(item)) return fail(item, `an upstream is a mapping of ${UPSTREAM_KEYS.join(', ')}`);
  const values = new Map<string, { value: unknown; node: YamlNode }>();
  for (const pair of item.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : '';
    if (!UPSTREAM_KEYS.includes(key))
      fail(pair.key, `unknown key "${key}" in an upstream (expected ${UPSTREAM_KEYS.join(', ')})`);
    values.set(key, { value: pair.value, node: (pair.value ?? pair.key) as YamlNode });
  }
  const str = (key: string): { value: string; node: YamlNode } | undefined => {
    const entry = values.get(key);
    if (!entry) return undefined;
    const v = entry.value;
    if (!isScalar(v) || typeof v.value !== 'string' || v.value === '')
      return fail(
        entry.node,
        `${key} must be a non-empty string (quote it if YAML reads it as something else)`,
      );
    return { value: v.value, node: v };
  };

  const name = str('name') ?? fail(item, 'an upstream needs a name');
  if (!COMPONENT.test(name.value))
    fail(
      name.node,
      `name "${name.value}" is not a repository path component (lower-case letters, digits, . _ -)`,
    );

  const urlEntry = str('url') ?? fail(item, `upstream "${name.value}" needs a url`);
  const url = urlEntry.value.replace(/\/+$/, '');
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:'))
    fail(urlEntry.node, `url "${urlEntry.value}" is not an http:// or https:// URL`);
  if (parsed!.username || parsed!.password)
    fail(urlEntry.node, 'url must not hold credentials (use username and password or passwordFile)');
  if (parsed!.search || parsed!.hash || url.includes('?') || url.includes('#'))
    fail(urlEntry.node, 'url must not have a query or fragment');

  const hosts: string[] = [];
  const hostsEntry = values.get('hosts');
  if (hostsEntry) {
    if (!isSeq(hostsEntry.value) || hostsEntry.value.items.length === 0)
      fail(hostsEntry.node, 'hosts must be a non-empty list of host[:port]');
    for (const h of (hostsEntry.value as { items: unknown[] }).items) {
      if (!isScalar(h) || typeof h.value !== 'string' || !HOST.test(h.value.toLowerCase()))
        fail(
          h,
          `hosts must hold host or host:port names (got ${isScalar(h) ? JSON.stringify(h.value) : 'a non-string'})`,
        );
      const host = (h as { value: string }).value.toLowerCase();
      if (hosts.includes(host)) fail(h, `host "${host}" is listed twice`);
      hosts.push(host);
    }
  } else {
    // As written in the url: `https://r.example:443` keeps `:443`, which URL.host would drop.
    hosts.push(/^[a-z]+:\/\/([^/]+)/i.exec(url)![1].toLowerCase());
  }

  const ns = str('defaultNamespace');
  if (ns && !ns.value.split('/').every((c) => COMPONENT.test(c)))
    fail(ns.node, `defaultNamespace "${ns.value}" is not a repository path (components separated by /)`);

  const username = str('username');
  const password = str('password');
  const passwordFile = str('passwordFile');
  if (password && passwordFile) fail(passwordFile.node, 'give password or passwordFile, not both');
  let secret = password?.value;
  if (passwordFile) {
    const path = resolve(baseDir, passwordFile.value);
    try {
      secret = readFileSync(path, 'utf8').replace(/\r?\n$/, '');
    } catch (e) {
      fail(
        passwordFile.node,
        `cannot read passwordFile ${path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`,
      );
    }
    if (!secret) fail(passwordFile.node, `passwordFile ${path} is empty`);
  }
  if (username && secret === undefined) fail(username.node, 'username needs password or passwordFile');
  if (!username && secret !== undefined) fail((password ?? passwordFile)!.node, 'password needs a username');

  let tagTtlMs = parseDuration(DEFAULT_TAG_TTL);
  const ttlEntry = values.get('tagTTL');
  if (ttlEntry) {
    const v = ttlEntry.value;
    try {
      tagTtlMs = parseDuration(isScalar(v) ? String(v.value) : '');
    } catch {
      fail(ttlEntry.node, 'tagTTL is not a duration like 500ms, 30s, 5m or 1h');
    }
  }

  let isDefault = false;
  const defaultEntry = values.get('default');
  if (defaultEntry) {
    const v = defaultEntry.value;
    if (!isScalar(v) || typeof v.value !== 'boolean')
      fail(defaultEntry.node, 'default must be true or false');
    isDefault = (v as { value: boolean }).value;
  }

  return {
    name: name.value,
    url,
    hosts,
    ...(ns ? { defaultNamespace: ns.value } : {}),
    ...(username ? { username: username.value, password: secret } : {}),
    tagTtlMs,
    default: isDefault,
  };
}
