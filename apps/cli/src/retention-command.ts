import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';

export const RETENTION_USAGE = `usage: wharf retention run [--dry-run] [--json]

  run        delete every tag of a repository with retention rules that no keep-rule holds
             (nor an immutable rule), as a DELETE of the tag would: caches of every running
             replica drop it before this returns, delete events go out, the online GC takes
             the manifests and blobs left untagged
  --dry-run  list exactly what a run would delete now; nothing changed

Reads WHARF_RULES, and WHARF_DATABASE_URL or the all-in-one data directory (WHARF_DATA_DIR), as
gc does; works while the registry runs.`;

/** `npm run wharf -- retention run [--dry-run] [--json]`: an exit code. */
export async function retentionMain(args: string[], json: boolean): Promise<number> {
  const rest = args.slice(1);
  const problem =
    args[0] !== 'run'
      ? args.length
        ? `unknown retention subcommand ${JSON.stringify(args[0])}`
        : 'missing retention subcommand'
      : rest.find((a) => a !== '--dry-run' && a !== 'dry-run');
  if (problem !== undefined) {
    console.error(
      `${args[0] === 'run' ? `unexpected argument ${JSON.stringify(problem)}` : problem}\n\n${RETENTION_USAGE}`,
    );
    return 2;
  }
  const dryRun = rest.length > 0;
  await import('reflect-metadata');
  // The report is the output: the library's own log lines (to stdout) would garble it; errors go to stderr.
  (await import('@nestjs/common')).Logger.overrideLogger(['error']);
  const [{ loadConfig }, metadata, { openCliDatabase }] = await Promise.all([
    import('@wharf/config'),
    import('@wharf/metadata'),
    import('./database'),
  ]);
  const config = loadConfig();
  const file = config.rules.file;
  if (!file) {
    console.error('WHARF_RULES is not set: there are no retention rules to apply');
    return 2;
  }
  // The same validation as at the registry's start: a wrong line is named, nothing is deleted.
  const rules = metadata.parseRules(readFileSync(file, 'utf8'), file);
  const db = await openCliDatabase(config);
  try {
    const ds = await metadata.openMetadataDataSource({
      databaseUrl: db.url,
      poolSize: 2,
      timeoutMs: config.databaseTimeoutMs,
    });
    try {
      // Delete events go to the outbox, where the registry's relay finds them, when it has events on.
      const events =
        config.events.webhooks.length > 0 || config.events.jetstream
          ? new metadata.EventOutbox(ds, {
              source: { addr: hostname(), instanceID: randomUUID() },
              pull: false,
              pullFlushMs: config.events.pullFlushMs,
            })
          : metadata.NO_EVENTS;
      // Without a way to notify the caches, each live holder is revoked and its lease waited out.
      const pass = new metadata.RetentionPass(
        ds,
        new metadata.HolderCoherence(ds),
        events,
        config.gc.reviewDelayMs,
      );
      const report = await pass.run(rules, { dryRun });
      console.log(json ? JSON.stringify(report, null, 2) : formatRetentionReport(report));
      return 0;
    } finally {
      await ds.destroy();
    }
  } finally {
    await db.release();
  }
}

export function formatRetentionReport(r: import('@wharf/metadata').RetentionReport): string {
  const lines = r.deleted.map(
    (t) => `${t.repository}:${t.tag}  ${t.digest}  pushed ${t.pushedAt}  pulled ${t.pulledAt ?? 'never'}`,
  );
  const verb = r.dryRun ? 'would delete' : 'deleted';
  lines.push(
    `${verb} ${r.deleted.length} of ${r.tags} tags in ${r.repositories} repositories with retention rules (as of ${r.at})`,
  );
  if (r.skipped) lines.push(`left ${r.skipped} tags that were pushed again or deleted meanwhile`);
  return lines.join('\n');
}
