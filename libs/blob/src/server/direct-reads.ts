import { Logger } from '@nestjs/common';
import type { BlobRef, DirectReads } from '@wharf/contracts';
import type { BlobDriver } from '@wharf/storage';

/**
 * Long enough for the gateway that asked to start its GET (S3 checks expiry when a request
 * starts, not while it streams) with room for clock skew; short, because nothing is to keep it.
 */
export const READ_URL_SECONDS = 60;

/**
 * What lets a gateway read committed blobs without this service's data port (ADR 23): the
 * identity of its filesystem store, or short-lived URLs on the S3 endpoint it uses itself. The
 * service keeps owning uploads, commits and sessions; the gateway checks access and the repository
 * link before it asks or reads.
 */
export class DirectReadGrants {
  private readonly log = new Logger('direct-reads');

  private constructor(private readonly driver: BlobDriver) {}

  /** Creates the store's identity if it has none yet, so the first gateway can compare at once. */
  static async create(driver: BlobDriver): Promise<DirectReadGrants> {
    const grants = new DirectReadGrants(driver);
    await grants.storeId();
    return grants;
  }

  async directReads(): Promise<DirectReads> {
    return { storeId: await this.storeId(), urls: this.driver.internalGetUrl !== undefined };
  }

  async readUrl({ digest }: BlobRef): Promise<string | null> {
    return this.driver.internalGetUrl ? this.driver.internalGetUrl(digest, READ_URL_SECONDS) : null;
  }

  /**
   * Read again on every ask (gateways ask every few seconds at most): an id file removed or
   * replaced by hand stops direct reads instead of being vouched for from memory.
   */
  private async storeId(): Promise<string | null> {
    if (!this.driver.storeId) return null;
    try {
      return await this.driver.storeId();
    } catch (e) {
      // Gateways then read over the data port, as they did before there were direct reads.
      this.log.warn(`no store identity, gateways read through this service: ${(e as Error).message}`);
      return null;
    }
  }
}
