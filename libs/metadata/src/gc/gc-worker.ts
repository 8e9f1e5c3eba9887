import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { BLOB_API, type BlobApi } from '@wharf/contracts';
import { CACHE_COHERENCE, type CacheCoherence } from '../coherence/cache-coherence';
import { METADATA_DATA_SOURCE } from '../tokens';
import { GcCollector } from './collector';
import { GC_OPTIONS, type GcOptions } from './gc-options';

/** In-process counters of this worker (the database-wide figures are readGcStats). */
export interface GcWorkerCounters {
  passes: number;
  manifestsDeleted: number;
  blobsDeleted: number;
  bytesFreed: number;
  lastRunAt: Date | null;
  lastError: string | null;
}

/**
 * Runs the collector on every metadata replica: a pass every `intervalMs` while idle, back to back
 * while there is work. Stops before the data source closes, after its current (short) transaction.
 */
@Injectable()
export class GcWorker implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly log = new Logger('GcWorker');
  private readonly collector: GcCollector;
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopping = false;
  private readonly state: GcWorkerCounters = {
    passes: 0,
    manifestsDeleted: 0,
    blobsDeleted: 0,
    bytesFreed: 0,
    lastRunAt: null,
    lastError: null,
  };

  constructor(
    @Inject(METADATA_DATA_SOURCE) ds: DataSource,
    @Inject(GC_OPTIONS) private readonly opts: GcOptions,
    @Inject(BLOB_API) blobs: BlobApi,
    @Inject(CACHE_COHERENCE) coherence: CacheCoherence,
  ) {
    this.collector = new GcCollector(ds, blobs, opts.reviewDelayMs, coherence);
  }

  counters(): GcWorkerCounters {
    return { ...this.state };
  }

  onApplicationBootstrap(): void {
    if (this.opts.enabled) this.schedule(this.opts.intervalMs);
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** One pass now (tests, the CLI); resolves when it is done. */
  runOnce(): Promise<void> {
    this.running = (this.running ?? Promise.resolve()).then(() => this.pass());
    return this.running;
  }

  private schedule(ms: number): void {
    if (this.stopping) return;
    this.timer = setTimeout(() => {
      void this.runOnce().finally(() => this.schedule(this.opts.intervalMs));
    }, ms);
    this.timer.unref();
  }

  private async pass(): Promise<void> {
    if (this.stopping) return;
    try {
      const r = await this.collector.runPass(() => this.stopping);
      this.state.passes++;
      this.state.manifestsDeleted += r.manifestsDeleted;
      this.state.blobsDeleted += r.blobsDeleted;
      this.state.bytesFreed += r.bytesFreed;
      this.state.lastRunAt = new Date();
      this.state.lastError = null;
      if (r.sweepError) this.log.warn(`gc: walk for unlinked bytes failed: ${r.sweepError}`);
      if (r.manifestsDeleted || r.blobsDeleted)
        this.log.log(
          `collected ${r.manifestsDeleted} manifests, ${r.blobsDeleted} blobs (${r.bytesFreed} bytes)`,
        );
    } catch (e) {
      this.state.lastError = (e as Error).message;
      if (!this.stopping) this.log.warn(`gc pass failed: ${(e as Error).message}`);
    }
  }
}
