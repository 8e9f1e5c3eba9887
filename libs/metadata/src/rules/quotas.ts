import { Inject, Injectable } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { queryRows, type Queryable } from '@wharf/database';
import { RegistryError } from '@wharf/oci';
import { METADATA_DATA_SOURCE } from '../tokens';
import { REPOSITORY_RULES, type RepositoryRules } from './repository-rules';
import { namespaceOf, type QuotaRule, type Rules } from './rules-file';

/** The quota rule that applies to `repository`'s namespace, if any. */
export function quotaRuleFor(rules: Rules, repository: string, proxied = false): QuotaRule | undefined {
  return rules.quotas.length ? rules.quotaOf(namespaceOf(repository), proxied) : undefined;
}

/**
 * Namespace quotas. Usage is kept by the database (migration 1765200000000-namespace-usage): the
 * size of the distinct blobs and manifests linked to a namespace's repositories. A write that links
 * content checks it as the last step of its own transaction: the usage triggers, otherwise run at
 * commit, run now and lock the namespace's usage row until commit, so racing pushes into one
 * namespace (on any replica) are checked one after another, each against the usage the ones before
 * it left, and a refusal rolls the link back. Nothing may follow in the transaction: the lock would
 * be held across it.
 *
 * Refuses (403 DENIED) when the insert added bytes and took the namespace over `rule`'s limit. A
 * write that added nothing (content the namespace already holds) passes even over the limit.
 */
export async function enforceQuota(db: Queryable, repository: string, rule: QuotaRule): Promise<void> {
  const namespace = namespaceOf(repository);
  await db.query(
    'SET CONSTRAINTS metadata.namespace_usage_links, metadata.namespace_usage_manifests IMMEDIATE',
  );
  const rows = await queryRows<{ bytes: string; grew: boolean }>(
    db,
    `SELECT bytes, position(' ' || $1 || ' ' IN coalesce(current_setting('wharf.usage_grew', true), '')) > 0
              AS grew
       FROM metadata.namespace_usage WHERE namespace = $1 FOR UPDATE`,
    [namespace],
  );
  const usage = rows.length ? Number(rows[0].bytes) : 0;
  if (rows[0]?.grew && usage > rule.limit) {
    throw new RegistryError(
      'DENIED',
      `quota exceeded: this push would take namespace "${namespace}" to ${describeBytes(usage)}, ` +
        `over its limit of ${describeBytes(rule.limit)} (${ruleName(rule)})`,
      { namespace, usage, limit: rule.limit, rule: ruleName(rule) },
    );
  }
}

/** The check before an upload starts (MetadataApi.admitUpload). */
@Injectable()
export class NamespaceQuotas {
  constructor(
    @Inject(METADATA_DATA_SOURCE) private readonly ds: DataSource,
    @Inject(REPOSITORY_RULES) private readonly rules: RepositoryRules,
  ) {}

  /** Refuses (403 DENIED) when the namespace is already at or over its limit. */
  async admitUpload(repository: string): Promise<void> {
    const rule = quotaRuleFor(await this.rules.current(), repository);
    if (!rule) return;
    const namespace = namespaceOf(repository);
    const usage = await namespaceUsage(this.ds, namespace);
    if (usage >= rule.limit) {
      throw new RegistryError(
        'DENIED',
        `quota exceeded: namespace "${namespace}" uses ${describeBytes(usage)} of its limit of ` +
          `${describeBytes(rule.limit)} (${ruleName(rule)}); delete content to push more`,
        { namespace, usage, limit: rule.limit, rule: ruleName(rule) },
      );
    }
  }
}

export async function namespaceUsage(db: Queryable, namespace: string): Promise<number> {
  const rows = await queryRows<{ bytes: string }>(
    db,
    'SELECT bytes FROM metadata.namespace_usage WHERE namespace = $1',
    [namespace],
  );
  return rows.length ? Number(rows[0].bytes) : 0;
}

export interface NamespaceUsage {
  namespace: string;
  bytes: number;
  /** The quota's limit, when a rule names the namespace. */
  limit?: number;
  /** `<file> line N` of that rule. */
  rule?: string;
}

/**
 * Every namespace that holds content or has a quota, by name. The rule lookup is the ordinary
 * one (globs apply), since nothing here says which namespaces are pull-through caches.
 */
export async function listNamespaceUsage(db: Queryable, rules: Rules): Promise<NamespaceUsage[]> {
  const rows = await queryRows<{ namespace: string; bytes: string }>(
    db,
    'SELECT namespace, bytes FROM metadata.namespace_usage WHERE bytes > 0 ORDER BY namespace',
  );
  const usage = new Map(rows.map((r) => [r.namespace, Number(r.bytes)]));
  for (const rule of rules.quotas) for (const ns of rule.literal) if (!usage.has(ns)) usage.set(ns, 0);
  return [...usage.keys()]
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    .map((namespace) => {
      const rule = rules.quotaOf(namespace);
      return {
        namespace,
        bytes: usage.get(namespace) ?? 0,
        ...(rule ? { limit: rule.limit, rule: ruleName(rule) } : {}),
      };
    });
}

export function ruleName(rule: QuotaRule): string {
  return `${rule.file} line ${rule.line}`;
}

/** Exact bytes, with a binary-unit reading beside them once that says more. */
export function describeBytes(n: number): string {
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = '';
  for (const u of units) {
    if (value < 1024) break;
    value /= 1024;
    unit = u;
  }
  return unit ? `${n} bytes (${value.toFixed(1)} ${unit})` : `${n} bytes`;
}
