import { Logger } from '@nestjs/common';
import type { BlobLink, EventContext, ManifestResult, PullRecord } from '@wharf/contracts';

/** A batch is sent when it reaches this many pulls, or after flushMs. */
const BATCH_MAX = 2000;

/**
 * Reports the pulls a gateway answered from its cache to the metadata service, which turns them
 * into pull events as if it had answered them itself. Batched like the service's own pull events
 * (they are not transactional either): a gateway that dies loses at most one batch.
 */
export class PullForwarder {
  private readonly log = new Logger('pull-forwarder');
  private batch: PullRecord[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** Set from the metadata service's lease answer: false while it drops pull events anyway. */
  enabled = false;

  constructor(
    private readonly send: (pulls: PullRecord[]) => Promise<void>,
    private readonly flushMs: number,
  ) {}

  manifest(repository: string, m: ManifestResult, tag: string | undefined, event: EventContext): void {
    const { digest, size, mediaType } = m;
    this.add({ repository, digest, size, mediaType, ...(tag !== undefined ? { tag } : {}), event });
  }

  blob(repository: string, link: BlobLink, event: EventContext): void {
    this.add({ repository, digest: link.digest, size: link.size, event });
  }

  private add(pull: PullRecord): void {
    if (!this.enabled) return;
    this.batch.push(pull);
    if (this.batch.length >= BATCH_MAX) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), this.flushMs).unref();
  }

  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.batch;
    this.batch = [];
    if (!batch.length) return;
    await this.send(batch).catch((e: unknown) =>
      this.log.warn(`dropped ${batch.length} pull events: ${(e as Error).message}`),
    );
  }
}
