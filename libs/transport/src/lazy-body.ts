import { Readable } from 'node:stream';

/**
 * A request body that reads its source only once the HTTP client pulls the first byte. A request
 * that fails to connect therefore leaves the client's body untouched, so it can be retried on
 * another replica; and destroying it (the upstream answered early, or died) detaches from the
 * source without destroying it, so the gateway can still answer its client and drain the rest.
 */
export class LazyBody extends Readable {
  started = false;
  private readonly onData = (chunk: Buffer): void => {
    if (!this.push(chunk)) this.source.pause();
  };
  private readonly onEnd = (): void => {
    this.push(null);
  };
  private readonly onError = (e: Error): void => {
    this.destroy(e);
  };
  private readonly onAborted = (): void => {
    this.destroy(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }));
  };

  constructor(private readonly source: Readable) {
    super({ highWaterMark: 1 << 20 });
  }

  override _read(): void {
    if (this.started) {
      this.source.resume();
      return;
    }
    this.started = true;
    if (this.source.readableEnded) {
      this.push(null);
      return;
    }
    this.source.on('data', this.onData);
    this.source.once('end', this.onEnd);
    this.source.once('error', this.onError);
    this.source.once('aborted', this.onAborted);
    this.source.once('close', this.onSourceClose);
    this.source.resume();
  }

  private readonly onSourceClose = (): void => {
    // A client that went away before sending everything: the upstream must not commit a prefix.
    if (!this.source.readableEnded) this.onAborted();
  };

  override _destroy(err: Error | null, cb: (err: Error | null) => void): void {
    this.detach();
    cb(err);
  }

  private detach(): void {
    this.source.off('data', this.onData);
    this.source.off('end', this.onEnd);
    this.source.off('error', this.onError);
    this.source.off('aborted', this.onAborted);
    this.source.off('close', this.onSourceClose);
    if (!this.source.readableEnded) this.source.pause();
  }
}
