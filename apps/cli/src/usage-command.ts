import { readFileSync } from 'node:fs';
import type { NamespaceUsage } from '@wharf/metadata';

export const USAGE_USAGE = `usage: wharf usage [--json]

  every namespace (a repository name's first segment) holding content, with its usage (the
  distinct blobs and manifests linked to its repositories) and, where a WHARF_RULES quota names
  it, the limit and the rule

Reads WHARF_RULES, and WHARF_DATABASE_URL or the all-in-one data directory (WHARF_DATA_DIR), as
gc does; works while the registry runs.`;

export interface UsageReport {
  /** WHARF_RULES, when set. */
  rules?: string;
  namespaces: NamespaceUsage[];
}

/** `npm run wharf -- usage [--json]`: an exit code. */
export async function usageMain(args: string[], json: boolean): Promise<number> {
  if (args.length) {
    console.error(`unexpected argument ${JSON.stringify(args[0])}\n\n${USAGE_USAGE}`);
    return 2;
  }
  await import('reflect-metadata');
  const [{ loadConfig }, metadata, { openCliDatabase }] = await Promise.all([
    import('@wharf/config'),
    import('@wharf/metadata'),
    import('./database'),
  ]);
  const config = loadConfig();
  const file = config.rules.file;
  // The same validation as at the registry's start: a wrong line is named.
  const rules = file ? metadata.parseRules(readFileSync(file, 'utf8'), file) : metadata.NO_RULES;
  const db = await openCliDatabase(config);
  try {
    const ds = await metadata.openMetadataDataSource({
      databaseUrl: db.url,
      poolSize: 2,
      timeoutMs: config.databaseTimeoutMs,
    });
    try {
      const report: UsageReport = {
        ...(file ? { rules: file } : {}),
        namespaces: await metadata.listNamespaceUsage(ds, rules),
      };
      console.log(json ? JSON.stringify(report, null, 2) : formatUsageReport(report));
      return 0;
    } finally {
      await ds.destroy();
    }
  } finally {
    await db.release();
  }
}

export function formatUsageReport(r: UsageReport): string {
  if (!r.namespaces.length) return 'no namespace holds content';
  const rows = r.namespaces.map((u) => [
    u.namespace,
    bytes(u.bytes),
    u.limit === undefined ? '-' : bytes(u.limit),
    u.limit === undefined ? '' : `${((100 * u.bytes) / Math.max(1, u.limit)).toFixed(1)}%`,
    u.rule ?? '',
  ]);
  const header = ['NAMESPACE', 'USAGE', 'LIMIT', 'USED', 'RULE'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  return [header, ...rows]
    .map((row) =>
      row
        .map((cell, i) => cell.padEnd(widths[i]))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(1)} ${units[u]}`;
}
