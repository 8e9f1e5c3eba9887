import { ConfigError, parseDurationMs } from './config';

/** Online garbage collection (docs/adr/0012-online-gc.md). */
export interface GcConfig {
  /** WHARF_GC_ENABLED: run the collector in this metadata process (the CLI works either way). */
  enabled: boolean;
  /** WHARF_GC_REVIEW_DELAY: how long a possibly orphaned object is protected (in-flight pushes). */
  reviewDelayMs: number;
  /** WHARF_GC_INTERVAL: how often an idle worker looks for due reviews. */
  intervalMs: number;
}

export function loadGcConfig(get: (key: string) => string | undefined): GcConfig {
  const enabled = get('WHARF_GC_ENABLED') ?? 'true';
  if (!/^(true|false|1|0|yes|no)$/i.test(enabled))
    throw new ConfigError('WHARF_GC_ENABLED', `"${enabled}" is not true or false`);
  const intervalMs = parseDurationMs('WHARF_GC_INTERVAL', get('WHARF_GC_INTERVAL') ?? '5s');
  if (intervalMs < 10) throw new ConfigError('WHARF_GC_INTERVAL', 'must be at least 10ms');
  return {
    enabled: /^(true|1|yes)$/i.test(enabled),
    reviewDelayMs: parseDurationMs('WHARF_GC_REVIEW_DELAY', get('WHARF_GC_REVIEW_DELAY') ?? '24h'),
    intervalMs,
  };
}
