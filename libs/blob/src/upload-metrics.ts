import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { metrics } from '@wharf/observability';
import { BLOB_DATA_SOURCE } from './blob.service';

/**
 * `wharf_uploads_open`: upload sessions started and neither completed, cancelled nor expired and
 * swept. Read from the uploads table at scrape time, so every blob replica reports the same
 * cluster-wide figure (aggregate with max, not sum).
 */
@Injectable()
export class UploadMetrics implements OnModuleInit, OnApplicationShutdown {
  private unregister?: () => void;

  constructor(@Inject(BLOB_DATA_SOURCE) private readonly ds: DataSource) {}

  onModuleInit(): void {
    this.unregister = metrics.registerGauge(
      'wharf_uploads_open',
      'Upload sessions in progress (cluster-wide, from the blob.uploads table).',
      async () => {
        const rows: { n: number }[] = await this.ds.query('SELECT count(*)::int AS n FROM blob.uploads');
        return rows[0].n;
      },
    );
  }

  onApplicationShutdown(): void {
    this.unregister?.();
  }
}
