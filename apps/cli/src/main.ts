import type { BlobService } from '@wharf/blob';
import type { WharfConfig } from '@wharf/config';
import type { DataSource } from 'typeorm';
import type { GcMode } from './gc-command';

const USAGE = `usage: wharf gc stats|--dry-run|run [--json]
       wharf retention run [--dry-run] [--json]
       wharf usage [--json]
       wharf --help

  stats      queue depth, overdue reviews, totals freed, last run
  --dry-run  what a run would free now (count, bytes), and what is not due yet and when it
             will be (WHARF_GC_REVIEW_DELAY after the last change); nothing changed
  run        queue every orphan and collect what is due, alongside the registry's workers

Reads the registry's configuration (WHARF_*): WHARF_DATABASE_URL, or the all-in-one data
directory (WHARF_DATA_DIR, default ./data).`;

/** `npm run wharf -- gc ...`: the admin CLI. */
async function main(argv: string[]): Promise<number> {
  const json = argv.includes('--json');
  const args = argv.filter((a) => a !== '--json');
  if (args.some((a) => a === '--help' || a === '-h' || a === 'help')) {
    console.log(USAGE);
    return 0;
  }
  if (args[0] === 'usage') return (await import('./usage-command')).usageMain(args.slice(1), json);
  if (args[0] === 'retention')
    return (await import('./retention-command')).retentionMain(args.slice(1), json);
  const parsed = gcMode(args);
  if (typeof parsed === 'string') {
    console.error(`${parsed}\n\n${USAGE}`);
    return 2;
  }
  const { mode } = parsed;
  // Loaded once the command line is known good: usage and mistakes answer at once.
  await import('reflect-metadata');
  const [
    { BlobService, openBlobDataSource },
    { loadConfig },
    { openMetadataDataSource },
    { FilesystemDriver },
  ] = await Promise.all([
    import('@wharf/blob'),
    import('@wharf/config'),
    import('@wharf/metadata'),
    import('@wharf/storage'),
  ]);
  const { openCliDatabase } = await import('./database');
  const { formatGcReport, gcCommand } = await import('./gc-command');
  const config = loadConfig();
  const db = await openCliDatabase(config);
  const opened: DataSource[] = [];
  try {
    const dbOpts = { databaseUrl: db.url, poolSize: 2, timeoutMs: config.databaseTimeoutMs };
    const ds = await openMetadataDataSource(dbOpts);
    opened.push(ds);
    let blobs: BlobService | undefined;
    // The dry run looks through the same blob service the run would use, so the two agree.
    if (mode !== 'stats' && localStorage(config)) {
      const blobDs = await openBlobDataSource(dbOpts);
      opened.push(blobDs);
      blobs = new BlobService(blobDs, new FilesystemDriver(config.storageRoot), {
        uploadTtlMs: config.uploadTtlMs,
      });
    }
    const report = await gcCommand(ds, mode, { reviewDelayMs: config.gc.reviewDelayMs, blobs });
    console.log(json ? JSON.stringify(report, null, 2) : formatGcReport(report));
    return 0;
  } finally {
    for (const ds of opened) await ds.destroy();
    await db.release();
  }
}

const GC_MODES: Record<string, GcMode> = {
  stats: 'stats',
  '--dry-run': 'dry-run',
  'dry-run': 'dry-run',
  run: 'run',
};

/** The gc mode, or what is wrong with the command line. */
function gcMode(args: string[]): { mode: GcMode } | string {
  if (!args.length) return 'missing command';
  if (args[0] !== 'gc') return `unknown command ${JSON.stringify(args[0])}`;
  if (args.length < 2) return 'missing gc subcommand';
  const mode = Object.hasOwn(GC_MODES, args[1]) ? GC_MODES[args[1]] : undefined;
  if (!mode) return `unknown gc subcommand ${JSON.stringify(args[1])}`;
  if (args.length > 2) return `unexpected argument ${JSON.stringify(args[2])}`;
  return { mode };
}

/** The bytes are on a filesystem this process can reach (the all-in-one; not the S3 shape over NATS). */
function localStorage(config: WharfConfig): boolean {
  return config.cluster.storage.driver === 'filesystem' && !config.cluster.natsServers?.length;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  },
);
