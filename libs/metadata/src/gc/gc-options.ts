export const GC_OPTIONS = Symbol('GC_OPTIONS');

export interface GcOptions {
  /** Run the collector in this process. */
  enabled: boolean;
  /** How long a possibly orphaned object is protected (in-flight pushes). */
  reviewDelayMs: number;
  /** How often an idle worker looks for due reviews. */
  intervalMs: number;
}
