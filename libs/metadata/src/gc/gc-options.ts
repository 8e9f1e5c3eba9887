export const GC_OPTIONS = Symbol('GC_OPTIONS');

export interface GcOptions {
  /** Run the collector in this process. */
  enabled: boolean;
  /** How long a possibly orphaned object is protected (in-flight pushes). */
  reviewDelayMs: number;
  /** How often an idle worker looks for due reviews. */
  intervalMs: number;
}

/**
 * A service wired without GC options: no worker here, and writes still queue their reviews with
 * the defaults of WHARF_GC_REVIEW_DELAY and WHARF_GC_INTERVAL, so workers elsewhere judge them alike.
 */
export const GC_DEFAULTS: GcOptions = { enabled: false, reviewDelayMs: 24 * 3600_000, intervalMs: 5_000 };
