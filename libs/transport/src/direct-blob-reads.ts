import type { Readable } from 'node:stream';
import { Logger } from '@nestjs/common';
import { Agent, request } from 'undici';
import type { DirectReads, OpenBlobRequest } from '@wharf/contracts';
import { metrics } from '@wharf/observability';
import { FilesystemDriver } from '@wharf/storage';
import type { RemoteBlobApi } from './remote-blob';

export interface DirectReadOptions {
  /**
   * The process's WHARF_STORAGE_ROOT. Read from only while it holds the store identity the blob
   * services report; it is never written to.
   */
  storageRoot?: string;
  /** How long the blob services' answer about their store is used before asking again. */
  refreshMs?: number;
  /** Until the store's URL endpoint answers its headers (then the client sets the pace). */
  timeoutMs?: number;
  /** Clock, for tests. */
  now?: () => number;
}

/** The BlobApi with one-hop reads, and the connections to the store to let go of at shutdown. */
export type DirectBlobApi = RemoteBlobApi & { close(): Promise<void> };

type ReadPath = 'filesystem' | 'url' | 'data_port';

const REFRESH_MS = 30_000;
/** After a failed ask (blob services starting, or down), ask again this soon. */
const RETRY_MS = 2_000;
/** A store endpoint this process could not reach is left alone for this long. */
const URL_BACKOFF_MS = 30_000;
/** A failure that repeats on every read (permissions, clock skew) is logged once in this long. */
const WARN_EVERY_MS = 60_000;

/**
 * Blob reads in one hop (ADR 23): `openBlob` reads committed blobs from the store itself instead
 * of through the blob service's data port, and falls back to the data port whenever it cannot be
 * sure of the bytes. Everything else (uploads, commits, sessions, URLs for clients) stays the blob
 * service's; the caller has checked access and the repository link before it opens a blob.
 *
 * - Filesystem: when the gateway's storage root holds the store id the blob services report, the
 *   file is opened through the filesystem driver (its layout, its fast copy path). A file that is
 *   missing, or shorter than the range asked for, is read over the data port instead, which then
 *   answers exactly as it would have (the blob, or BLOB_UNKNOWN).
 * - S3: the blob service presigns a short-lived GET for its own endpoint (one NATS message); the
 *   gateway sends the client's range with it and streams the answer. The URL is used once, at once.
 */
export function directBlobReads(remote: RemoteBlobApi, opts: DirectReadOptions = {}): DirectBlobApi {
  const reads = new DirectReadPlan(remote, opts);
  return { ...remote, openBlob: (req) => reads.open(req), close: () => reads.close() };
}

class DirectReadPlan {
  private readonly log = new Logger('blob-reads');
  private readonly reads = metrics.counter(
    'wharf_blob_reads_total',
    'Blob reads a gateway opened, by the path the bytes took: filesystem, url (the store, presigned), data_port.',
    ['path'],
  );
  private readonly root?: string;
  private readonly local?: FilesystemDriver;
  private readonly now: () => number;
  private readonly refreshMs: number;
  private readonly agent: Agent;
  /** The blob services' last answer; kept while they cannot be asked (their files stay valid). */
  private answer: DirectReads | null = null;
  private files = false;
  private askAfter = 0;
  private refreshing: Promise<void> | null = null;
  private urlsOffUntil = 0;
  private described = '';
  private warnedAt = -Infinity;

  constructor(
    private readonly remote: RemoteBlobApi,
    opts: DirectReadOptions,
  ) {
    this.root = opts.storageRoot;
    this.local = opts.storageRoot ? new FilesystemDriver(opts.storageRoot) : undefined;
    this.now = opts.now ?? Date.now;
    this.refreshMs = opts.refreshMs ?? REFRESH_MS;
    const timeout = opts.timeoutMs ?? 30_000;
    this.agent = new Agent({
      connections: 256,
      keepAliveTimeout: 4_000,
      connectTimeout: Math.min(timeout, 5_000),
      headersTimeout: timeout,
      // The client sets the pace; a slow reader is not a dead store.
      bodyTimeout: 0,
    });
    // Known before the first GET, so that one takes the short path too.
    void this.refresh();
  }

  async open(req: OpenBlobRequest): Promise<Readable> {
    if (this.askAfter === 0) await this.refresh();
    else if (this.now() >= this.askAfter) void this.refresh();
    const direct = this.files
      ? await this.fromFile(req)
      : this.answer?.urls && this.now() >= this.urlsOffUntil
        ? await this.fromUrl(req)
        : null;
    if (direct) return direct;
    return this.counted('data_port', await this.remote.openBlob(req));
  }

  close(): Promise<void> {
    return this.agent.close();
  }

  private refresh(): Promise<void> {
    this.refreshing ??= this.ask()
      .catch((e: unknown) => this.log.warn(`asking the blob services about their store: ${String(e)}`))
      .finally(() => {
        this.refreshing = null;
      });
    return this.refreshing;
  }

  private async ask(): Promise<void> {
    let asked = true;
    try {
      this.answer = await this.remote.directReads({});
    } catch (e) {
      asked = false;
      this.log.debug(`blob services not asked about their store: ${(e as Error).message}`);
    }
    // The local id is read again every time: a root that changed under the gateway stops matching.
    const storeId = this.answer?.storeId ?? null;
    const localId = storeId && this.local ? await this.local.readStoreId() : null;
    this.files = storeId !== null && localId === storeId;
    this.askAfter = this.now() + (asked ? this.refreshMs : RETRY_MS);
    this.describe(storeId, localId);
  }

  private async fromFile(req: OpenBlobRequest): Promise<Readable | null> {
    try {
      return this.counted('filesystem', await this.local!.read(req.digest, req.range));
    } catch (e) {
      // Missing (not committed here yet, or collected since the link check), shorter than the
      // range, unreadable: the data port answers as it always did.
      const code = (e as { code?: string }).code;
      if (code !== 'ENOENT') this.warn(`blob ${req.digest} read over the data port: ${(e as Error).message}`);
      return null;
    }
  }

  private async fromUrl(req: OpenBlobRequest): Promise<Readable | null> {
    let url: string | null;
    try {
      url = await this.remote.readUrl({ digest: req.digest });
    } catch {
      return null;
    }
    if (!url) return null;
    const { range } = req;
    let res;
    try {
      res = await request(url, {
        dispatcher: this.agent,
        method: 'GET',
        headers: range ? { range: `bytes=${range.start}-${range.end}` } : {},
      });
    } catch (e) {
      this.urlsOffUntil = this.now() + URL_BACKOFF_MS;
      this.log.warn(
        `the store's endpoint is out of reach, blobs read over the data port for ${URL_BACKOFF_MS / 1000} s: ${(e as Error).message}`,
      );
      return null;
    }
    const served = range
      ? res.statusCode === 206 &&
        String(res.headers['content-range'] ?? '').startsWith(`bytes ${range.start}-${range.end}/`)
      : res.statusCode === 200;
    if (served) return this.counted('url', res.body);
    // A 404 (collected since the link check) or anything else: the data port says what it is.
    // An error document is small: reading it keeps the connection for the next URL.
    await res.body.dump().catch(() => undefined);
    if (res.statusCode !== 404) this.warn(`the store answered ${res.statusCode} to a read URL`);
    return null;
  }

  private warn(message: string): void {
    if (this.now() - this.warnedAt < WARN_EVERY_MS) return;
    this.warnedAt = this.now();
    this.log.warn(message);
  }

  private counted(path: ReadPath, stream: Readable): Readable {
    this.reads.inc([path]);
    return stream;
  }

  /** Says which path reads take whenever that changes. */
  private describe(storeId: string | null, localId: string | null): void {
    let how = "over the blob services' data port";
    if (this.files) how = `from ${this.root} (store ${storeId})`;
    else if (this.answer?.urls) how = "from the store's internal endpoint, presigned by the blob services";
    else if (storeId !== null)
      how += `: their store is ${storeId}, ${this.root ?? 'no storage root'} holds ${localId ?? 'no store id'}`;
    if (how === this.described) return;
    this.described = how;
    this.log.log(`blob reads go ${how}`);
  }
}
