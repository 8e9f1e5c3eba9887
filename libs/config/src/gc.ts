import type { Settings } from './settings';

/** Online garbage collection (docs/adr/0012-online-gc.md). */
export interface GcConfig {
  /** WHARF_GC_ENABLED: run the collector in this metadata process (the CLI works either way). */
  enabled: boolean;
  /** WHARF_GC_REVIEW_DELAY: how long a possibly orphaned object is protected (in-flight pushes). */
  reviewDelayMs: number;
  /** WHARF_GC_INTERVAL: how often an idle worker looks for due reviews. */
  intervalMs: number;
}

export function loadGcConfig(s: Settings): GcConfig {
  return {
    enabled: s.get('WHARF_GC_ENABLED'),
    reviewDelayMs: s.get('WHARF_GC_REVIEW_DELAY'),
    intervalMs: s.get('WHARF_GC_INTERVAL'),
  };
}
