import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { metrics, type CollectResult } from '@wharf/observability';
import { eventLag, type EventLag } from './events';
import { readGcStats, type GcStats } from './gc';
import { METADATA_DATA_SOURCE } from './tokens';

/** One query serves every family of a scrape; figures a second old are fresh enough. */
function memo<T>(read: () => Promise<T>, ttlMs = 1000): () => Promise<T> {
  let at = 0;
  let value: Promise<T> | undefined;
  return () => {
    if (!value || Date.now() - at > ttlMs) {
      at = Date.now();
      value = read();
      // A failed read is not kept: the next scrape asks again.
      value.catch(() => (value = undefined));
    }
    return value;
  };
}

/**
 * GC and event-delivery figures for /metrics, read from Postgres at scrape time. They are
 * database-wide, so every metadata replica reports the same values: aggregate with max, not sum.
 */
@Injectable()
export class MetadataMetrics implements OnModuleInit, OnApplicationShutdown {
  private readonly unregister: (() => void)[] = [];

  constructor(@Inject(METADATA_DATA_SOURCE) private readonly ds: DataSource) {}

  onModuleInit(): void {
    const gc = memo<GcStats>(() => readGcStats(this.ds));
    const events = memo<EventLag>(() => eventLag(this.ds));
    const gauge = (name: string, help: string, collect: () => Promise<CollectResult>): void => {
      this.unregister.push(metrics.registerGauge(name, help, collect));
    };
    const counter = (name: string, help: string, collect: () => Promise<CollectResult>): void => {
      this.unregister.push(metrics.registerCounter(name, help, collect));
    };
    gauge(
      'wharf_gc_queue_depth',
      'GC work queued, by queue (manifest and blob reviews, blob deletions).',
      async () => {
        const s = await gc();
        return [
          { labels: { queue: 'manifest_reviews' }, value: s.manifestReviews },
          { labels: { queue: 'blob_reviews' }, value: s.blobReviews },
          { labels: { queue: 'blob_deletions' }, value: s.pendingBlobDeletions },
        ];
      },
    );
    gauge(
      'wharf_gc_overdue_reviews',
      'GC reviews due for over a minute: the collectors are behind or not running.',
      async () => (await gc()).overdueReviews,
    );
    counter(
      'wharf_gc_freed_bytes_total',
      'Bytes of blobs the collector deleted, since the database was created.',
      async () => (await gc()).bytesFreed,
    );
    counter('wharf_gc_deleted_total', 'Manifests and blobs the collector deleted, by kind.', async () => {
      const s = await gc();
      return [
        { labels: { kind: 'manifest' }, value: s.manifestsDeleted },
        { labels: { kind: 'blob' }, value: s.blobsDeleted },
      ];
    });
    gauge(
      'wharf_gc_last_run_timestamp_seconds',
      'When a collector last finished a pass (Unix time); 0 before the first.',
      async () => ((await gc()).lastRunAt?.getTime() ?? 0) / 1000,
    );
    gauge(
      'wharf_events_undelivered',
      'Events not yet handed to every sink (outbox rows unpublished plus queued webhook deliveries).',
      async () => (await events()).undelivered,
    );
    gauge(
      'wharf_events_lag_seconds',
      'Age of the oldest undelivered event; 0 when every event is delivered.',
      async () => (await events()).oldestAgeSeconds,
    );
  }

  onApplicationShutdown(): void {
    for (const u of this.unregister.splice(0)) u();
  }
}
