import 'reflect-metadata';
import { BlobService, openBlobDataSource } from '@wharf/blob';
import { ConfigError, loadConfig, type WharfConfig } from '@wharf/config';
import { openMetadataDataSource } from '@wharf/metadata';
import { FilesystemDriver } from '@wharf/storage';
import type { DataSource } from 'typeorm';
import { openCliDatabase } from './database';
import { formatGcReport, gcCommand, type GcMode } from './gc-command';

const USAGE = `usage: wharf gc stats|--dry-run|run [--json]

  stats      queue depth, overdue reviews, totals freed, last run
  --dry-run  what a collection would free now (count, bytes), nothing changed
  run        queue every orphan and collect what is due, alongside the registry's workers

Reads the registry's configuration (WHARF_*): WHARF_DATABASE_URL, or the all-in-one data
directory (WHARF_DATA_DIR, default ./data).`;

/** `npm run wharf -- gc ...`: the admin CLI. */
async function main(argv: string[]): Promise<number> {
  const json = argv.includes('--json');
  const args = argv.filter((a) => a !== '--json');
  const mode = gcMode(args);
  if (!mode) {
    console.error(USAGE);
    return 2;
  }
  const config = loadConfig();
  const db = await openCliDatabase(config);
  const opened: DataSource[] = [];
  try {
    const dbOpts = { databaseUrl: db.url, poolSize: 2, timeoutMs: config.databaseTimeoutMs };
    const ds = await openMetadataDataSource(dbOpts);
    opened.push(ds);
    let blobs: BlobService | undefined;
    if (mode === 'run' && localStorage(config)) {
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

function gcMode(args: string[]): GcMode | undefined {
  if (args[0] !== 'gc' || args.length !== 2) return undefined;
  const m = ({ stats: 'stats', '--dry-run': 'dry-run', 'dry-run': 'dry-run', run: 'run' } as const)[
    args[1] as 'stats'
  ];
  return m;
}

/** The bytes are on a filesystem this process can reach (the all-in-one; not the S3 shape over NATS). */
function localStorage(config: WharfConfig): boolean {
  return config.cluster.storage.driver === 'filesystem' && !config.cluster.natsServers?.length;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e instanceof ConfigError || e instanceof Error ? e.message : e);
    process.exit(1);
  },
);
