import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { metrics } from '@wharf/observability';
import { METADATA_DATA_SOURCE } from '../tokens';
import { REPOSITORY_RULES, type RepositoryRules } from './repository-rules';
import { listNamespaceUsage, type NamespaceUsage } from './quotas';

/**
 * wharf_namespace_usage_bytes and wharf_namespace_quota_bytes, read at scrape time: one indexed
 * read of metadata.namespace_usage (a row per namespace) shared by both families. Database-wide,
 * so every metadata replica reports the same values: aggregate with max, not sum.
 */
@Injectable()
export class QuotaMetrics implements OnModuleInit, OnApplicationShutdown {
  private readonly unregister: (() => void)[] = [];
  private last?: { at: number; value: Promise<NamespaceUsage[]> };

  constructor(
    @Inject(METADATA_DATA_SOURCE) private readonly ds: DataSource,
    @Inject(REPOSITORY_RULES) private readonly rules: RepositoryRules,
  ) {}

  onModuleInit(): void {
    this.unregister.push(
      metrics.registerGauge(
        'wharf_namespace_usage_bytes',
        'Bytes of distinct blobs and manifests linked to the repositories of each namespace.',
        async () => (await this.read()).map((u) => ({ labels: { namespace: u.namespace }, value: u.bytes })),
      ),
      metrics.registerGauge(
        'wharf_namespace_quota_bytes',
        'The quota limit of each namespace a WHARF_RULES quota names.',
        async () =>
          (await this.read()).flatMap((u) =>
            u.limit === undefined ? [] : [{ labels: { namespace: u.namespace }, value: u.limit }],
          ),
      ),
    );
  }

  /** Both families of one scrape from one query; a second-old figure is fresh enough. */
  private read(): Promise<NamespaceUsage[]> {
    if (!this.last || Date.now() - this.last.at > 1000) {
      const value = this.rules.current().then((rules) => listNamespaceUsage(this.ds, rules));
      const entry = { at: Date.now(), value };
      // A failed read is not kept: the next scrape asks again.
      value.catch(() => {
        if (this.last === entry) this.last = undefined;
      });
      this.last = entry;
    }
    return this.last.value;
  }

  onApplicationShutdown(): void {
    for (const u of this.unregister.splice(0)) u();
  }
}
