import * as p from '../parsers';
import type { KeyTable } from './spec';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The README's main configuration table: every shape reads these. */
export const GENERAL_KEYS = {
  WHARF_HTTP_ADDR: {
    parse: p.parseHostPort,
    default: ':5000',
    doc: '`host:port` to listen on (`127.0.0.1:0` picks a free port)',
    services: 'all',
    distributed: { doc: "the gateway's client port; on metadata and blob the internal data port + health" },
  },
  WHARF_DATA_DIR: {
    parse: p.path,
    default: './data',
    doc: 'all-in-one state: `postgres/` (embedded cluster), `blobs/`, `keys/`, `wharf.lock`',
  },
  WHARF_LOG_LEVEL: {
    parse: p.oneOf(LOG_LEVELS),
    default: 'info',
    doc: `${LOG_LEVELS.map((l) => `\`${l}\``).join(', ')} (JSON logs via pino)`,
  },
  WHARF_METRICS_ADDR: {
    parse: p.parseHostPort,
    doc: '`host:port` for a listener of its own serving `/metrics` (see Observability)',
  },
  WHARF_DATABASE_URL: {
    parse: p.text,
    secret: true,
    doc: 'use this Postgres instead of the embedded one (`postgres://user@host:5432/db`)',
    services: 'metadata, blob',
    distributed: { default: 'required', doc: 'Postgres; each service uses its own schema' },
  },
  WHARF_DATABASE_POOL_SIZE: {
    parse: p.int(1),
    default: '20',
    doc: 'connections per service pool, kept open; the embedded one opens all at start',
  },
  WHARF_DATABASE_TIMEOUT: {
    parse: p.parseDurationMs,
    default: '30s',
    doc: 'connection acquisition and statement timeout',
  },
  WHARF_UPLOAD_TTL: {
    parse: p.parseDurationMs,
    default: '24h',
    doc: 'an upload session idle for longer is forgotten and its bytes deleted',
  },
  WHARF_GC_ENABLED: {
    parse: p.bool,
    default: 'true',
    doc: 'run the collector in the metadata service (see Garbage collection below)',
  },
  WHARF_GC_REVIEW_DELAY: {
    parse: p.parseDurationMs,
    default: '24h',
    doc: 'content that may be orphaned is judged only this long after; must exceed any push',
  },
  WHARF_GC_INTERVAL: {
    parse: p.durationAtLeast('10ms'),
    default: '5s',
    doc: 'how often an idle collector looks for due reviews (at least `10ms`)',
  },
  WHARF_RULES: {
    parse: p.path,
    doc: 'repository rules: immutable tags, quotas, retention (a YAML file, see Repository rules); re-read when it changes',
    services: 'metadata',
  },
  WHARF_RETENTION_INTERVAL: {
    parse: p.durationAtLeast('1s'),
    default: '1h',
    doc: 'how often the retention pass runs (one metadata replica at a time)',
    services: 'metadata',
  },
  WHARF_STORAGE_ROOT: {
    parse: p.path,
    defaultDoc: '`<data dir>/blobs`',
    doc: 'filesystem driver root',
    services: 'gateway, blob',
    distributed: {
      doc: "the blob replicas' shared store; a gateway reads committed blobs from it if it is the same (ADR 23)",
    },
  },
  WHARF_PROXY_CONFIG: {
    parse: p.path,
    doc: 'upstream registries to mirror, a YAML file (see Pull-through cache)',
    services: 'gateway',
  },
  WHARF_SCHEMA1_SIGNING_KEY: {
    parse: p.path,
    defaultDoc: '`<data dir>/keys/schema1-signing.pem`',
    doc: 'PEM or JWK private key signing schema1 manifests (see below)',
    services: 'metadata',
    distributed: {
      default: 'required',
      doc: 'a key file shared by every metadata replica (no data directory to generate one in)',
    },
  },
  WHARF_SCHEMA1_PUSH: {
    parse: p.bool,
    default: 'false',
    doc: '`true` accepts schema1 pushes (see below)',
  },
  WHARF_SCHEMA1_DEFAULT_PLATFORM: {
    parse: p.platform,
    default: 'linux/amd64',
    doc: '`os/architecture` of the list entry for clients that do not accept lists',
  },
  WHARF_CONFIG: {
    parse: p.text,
    doc: 'optional YAML file under the environment (read from the environment only)',
  },
} satisfies KeyTable;
