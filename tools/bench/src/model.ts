import type { RegistryClient } from './client';

export type SideKey = 'target' | 'baseline' | 'bare';

/** One server process of a registry (the distributed shape has several: gateway-1, metadata-1, …). */
export interface Proc {
  name: string;
  pid: number;
}

export interface Side {
  key: SideKey;
  label: string;
  /** One URL, or several comma-separated (gateways) that the side's client spreads requests over. */
  url: string;
  client: RegistryClient;
  /** Its processes, for CPU (each one's tree, summed) and RSS (each one's own); empty when unknown. */
  processes: Proc[];
}

/** A target from the issue, checked (not asserted) against the measured figures. */
export type Goal =
  /** target / baseline >= value */
  | { kind: 'ratio-min'; value: number }
  /** target / baseline <= value */
  | { kind: 'ratio-max'; value: number }
  /** target / bare >= value */
  | { kind: 'bare-min'; value: number }
  /** target <= value (in the metric's unit) */
  | { kind: 'abs-max'; value: number };

export interface MetricSpec {
  id: string;
  section: string;
  name: string;
  unit: string;
  better: 'higher' | 'lower';
  goals?: Goal[];
  /** How the per-side value is derived from the samples. */
  aggregate?: 'median' | 'p50' | 'p99' | 'max';
}

export interface Metric extends MetricSpec {
  samples: Partial<Record<SideKey, number[]>>;
  value: Partial<Record<SideKey, number>>;
  errors: Partial<Record<SideKey, string>>;
}

export interface BenchOptions {
  quick: boolean;
  rounds: number;
  sections: Set<string>;
  /** Manifest load: per cell and round. */
  warmupMs: number;
  durationMs: number;
  concurrencies: number[];
  blobSizes: number[];
  /** Minimum time per blob GET / push cell and round. */
  transferMs: number;
  chunkSize: number;
  concurrentPushes: number;
  sharedLayerSizes: number[];
  uniqueLayerSize: number;
  listingSizes: number[];
  pageSize: number;
  pagesPerRound: number;
  seedConcurrency: number;
  /** Seconds a side may spend seeding one listing level before the harness measures what exists. */
  seedBudgetS: number;
  rssSize: number;
  runId: string;
  log: (line: string) => void;
}

export const SECTIONS = ['manifest', 'blob-get', 'push', 'concurrent', 'listings', 'rss'] as const;
