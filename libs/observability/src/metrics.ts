/**
 * A small Prometheus registry and text exposition (format 0.0.4). Hand-written rather than
 * prom-client so the request path costs one string key and a Map lookup per metric, with no label
 * object hashing; scrape-time gauges let other modules (uploads, GC, the event outbox) report a
 * value without a timer of their own.
 */

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

type Kind = 'counter' | 'gauge' | 'histogram';

interface Family {
  readonly name: string;
  readonly help: string;
  readonly kind: Kind;
  render(out: string[]): void | Promise<void>;
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function labelText(names: readonly string[], values: readonly string[], extra = ''): string {
  const parts = names.map((n, i) => `${n}="${escapeLabel(values[i])}"`);
  if (extra) parts.push(extra);
  return parts.length ? `{${parts.join(',')}}` : '';
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/** Series of one family, keyed by their label values joined with a separator no value contains. */
abstract class Labelled<S> implements Family {
  abstract readonly kind: Kind;
  protected readonly series = new Map<string, { values: string[]; state: S }>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
  ) {
    if (!NAME.test(name)) throw new Error(`invalid metric name ${name}`);
    for (const l of labelNames) if (!LABEL.test(l) || l === 'le') throw new Error(`invalid label ${l}`);
  }

  protected abstract fresh(): S;

  protected state(values: readonly string[]): S {
    if (values.length !== this.labelNames.length)
      throw new Error(`${this.name} takes labels ${this.labelNames.join(', ')}`);
    const key = values.join('\u0000');
    let s = this.series.get(key);
    if (!s) {
      s = { values: [...values], state: this.fresh() };
      this.series.set(key, s);
    }
    return s.state;
  }

  abstract render(out: string[]): void;
}

export class Counter extends Labelled<{ value: number }> {
  readonly kind = 'counter';

  protected fresh(): { value: number } {
    return { value: 0 };
  }

  inc(values: readonly string[] = [], by = 1): void {
    if (!(by >= 0)) throw new Error(`${this.name}: a counter only goes up`);
    this.state(values).value += by;
  }

  /** The series for these labels, to keep and bump directly on a hot path (`series.value += n`). */
  seriesFor(values: readonly string[]): { value: number } {
    return this.state(values);
  }

  /** The current value (tests, and gauges derived from counters). */
  get(values: readonly string[] = []): number {
    return this.series.get(values.join('\u0000'))?.state.value ?? 0;
  }

  render(out: string[]): void {
    for (const { values, state } of this.series.values())
      out.push(`${this.name}${labelText(this.labelNames, values)} ${formatValue(state.value)}`);
  }
}

export class Gauge extends Labelled<{ value: number }> {
  readonly kind = 'gauge';

  protected fresh(): { value: number } {
    return { value: 0 };
  }

  set(values: readonly string[], v: number): void {
    this.state(values).value = v;
  }

  add(values: readonly string[], by: number): void {
    this.state(values).value += by;
  }

  render(out: string[]): void {
    for (const { values, state } of this.series.values())
      out.push(`${this.name}${labelText(this.labelNames, values)} ${formatValue(state.value)}`);
  }
}

export interface Buckets {
  counts: number[];
  sum: number;
  count: number;
}

export class Histogram extends Labelled<Buckets> {
  readonly kind = 'histogram';

  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    readonly bounds: readonly number[],
  ) {
    super(name, help, labelNames);
    for (let i = 1; i < bounds.length; i++)
      if (!(bounds[i] > bounds[i - 1])) throw new Error(`${name}: buckets must increase`);
  }

  protected fresh(): Buckets {
    return { counts: new Array<number>(this.bounds.length).fill(0), sum: 0, count: 0 };
  }

  observe(values: readonly string[], v: number): void {
    this.observeInto(this.state(values), v);
  }

  /** The series for these labels, to keep and pass to observeInto on a hot path. */
  seriesFor(values: readonly string[]): Buckets {
    return this.state(values);
  }

  observeInto(s: Buckets, v: number): void {
    // Per-bucket counts; render() makes them cumulative, so observe stays one increment.
    let i = 0;
    while (i < this.bounds.length && v > this.bounds[i]) i++;
    if (i < this.bounds.length) s.counts[i]++;
    s.sum += v;
    s.count++;
  }

  render(out: string[]): void {
    for (const { values, state } of this.series.values()) {
      let cumulative = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        cumulative += state.counts[i];
        const le = `le="${formatValue(this.bounds[i])}"`;
        out.push(`${this.name}_bucket${labelText(this.labelNames, values, le)} ${cumulative}`);
      }
      out.push(`${this.name}_bucket${labelText(this.labelNames, values, 'le="+Inf"')} ${state.count}`);
      out.push(`${this.name}_sum${labelText(this.labelNames, values)} ${formatValue(state.sum)}`);
      out.push(`${this.name}_count${labelText(this.labelNames, values)} ${state.count}`);
    }
  }
}

/** A value read at scrape time: one number, or one per label set. */
export type CollectResult = number | { labels: Record<string, string>; value: number }[];

class Collected implements Family {
  constructor(
    readonly name: string,
    readonly help: string,
    readonly kind: 'gauge' | 'counter',
    private readonly collect: () => CollectResult | Promise<CollectResult>,
    private readonly onError: (name: string, e: unknown) => void,
  ) {
    if (!NAME.test(name)) throw new Error(`invalid metric name ${name}`);
  }

  async render(out: string[]): Promise<void> {
    let result: CollectResult;
    try {
      result = await this.collect();
    } catch (e) {
      // A dependency that is down (the database, say) must not take the whole scrape with it.
      this.onError(this.name, e);
      return;
    }
    if (typeof result === 'number') {
      out.push(`${this.name} ${formatValue(result)}`);
      return;
    }
    for (const { labels, value } of result) {
      const names = Object.keys(labels);
      for (const n of names) if (!LABEL.test(n)) throw new Error(`invalid label ${n}`);
      out.push(`${this.name}${labelText(names, Object.values(labels))} ${formatValue(value)}`);
    }
  }
}

export class MetricsRegistry {
  private readonly families = new Map<string, Family>();
  /** Called when a scrape-time collector fails; the family is left out of that scrape. */
  onCollectError: (name: string, e: unknown) => void = () => undefined;

  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return this.own(name, () => new Counter(name, help, labelNames), Counter);
  }

  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    return this.own(name, () => new Gauge(name, help, labelNames), Gauge);
  }

  histogram(
    name: string,
    help: string,
    labelNames: readonly string[],
    buckets: readonly number[],
  ): Histogram {
    return this.own(name, () => new Histogram(name, help, labelNames, buckets), Histogram);
  }

  /**
   * A gauge computed at scrape time (rows in a queue, sessions open). Registering a name again
   * replaces the collector, so a module started twice in one process reports the latest one; the
   * returned function removes it (only if it is still the registered one).
   */
  registerGauge(
    name: string,
    help: string,
    collect: () => CollectResult | Promise<CollectResult>,
  ): () => void {
    return this.registerCollected(name, help, 'gauge', collect);
  }

  /** A counter whose running total lives elsewhere (a table, a worker's own tally). */
  registerCounter(
    name: string,
    help: string,
    collect: () => CollectResult | Promise<CollectResult>,
  ): () => void {
    return this.registerCollected(name, help, 'counter', collect);
  }

  /** The exposition, in registration order. */
  async render(): Promise<string> {
    const out: string[] = [];
    for (const f of this.families.values()) {
      const lines: string[] = [];
      await f.render(lines);
      // A family with no series yet still announces itself; a collector that failed does not.
      if (lines.length === 0 && f instanceof Collected) continue;
      out.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.kind}`, ...lines);
    }
    return out.length ? `${out.join('\n')}\n` : '';
  }

  private registerCollected(
    name: string,
    help: string,
    kind: 'gauge' | 'counter',
    collect: () => CollectResult | Promise<CollectResult>,
  ): () => void {
    const existing = this.families.get(name);
    if (existing && !(existing instanceof Collected))
      throw new Error(`metric ${name} is already registered as a ${existing.kind}`);
    const family = new Collected(name, help, kind, collect, (n, e) => this.onCollectError(n, e));
    this.families.set(name, family);
    return () => {
      if (this.families.get(name) === family) this.families.delete(name);
    };
  }

  private own<F extends Family>(name: string, make: () => F, type: new (...a: never[]) => F): F {
    const existing = this.families.get(name);
    if (existing) {
      if (existing instanceof type) return existing;
      throw new Error(`metric ${name} is already registered as a ${existing.kind}`);
    }
    const f = make();
    this.families.set(name, f);
    return f;
  }
}

/** The process's registry: one per process, whichever services it runs. */
export const metrics = new MetricsRegistry();

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
