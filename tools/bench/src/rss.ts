import { readFileSync, writeFileSync } from 'node:fs';
import type { Proc } from './model';

/** Resident set of a process in bytes, from /proc/<pid>/status (the process only, not its children). */
export function readStatus(pid: number, field: 'VmRSS' | 'VmHWM'): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'latin1');
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Samples VmRSS at a fixed interval. Where the kernel allows it (root, Linux >= 4.0), the peak
 * (VmHWM) is also reset at the start and read at the end, so a spike between two samples still counts.
 */
export class RssSampler {
  private timer?: NodeJS.Timeout;
  private peakSampled = 0;
  private hwmReset = false;
  readonly before: number;

  constructor(
    private readonly pid: number,
    private readonly intervalMs = 20,
  ) {
    this.before = readStatus(pid, 'VmRSS') ?? NaN;
  }

  start(): this {
    try {
      writeFileSync(`/proc/${this.pid}/clear_refs`, '5');
      this.hwmReset = true;
    } catch {
      this.hwmReset = false;
    }
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    return this;
  }

  private sample(): number | undefined {
    const v = readStatus(this.pid, 'VmRSS');
    if (v !== undefined && v > this.peakSampled) this.peakSampled = v;
    return v;
  }

  /** Peak resident bytes seen since start(), and the resident bytes now. */
  stop(): RssReading {
    clearInterval(this.timer);
    const after = this.sample() ?? NaN;
    const hwm = this.hwmReset ? readStatus(this.pid, 'VmHWM') : undefined;
    return {
      before: this.before,
      after,
      peakSampled: this.peakSampled,
      peakHwm: hwm,
      peak: Math.max(this.peakSampled, hwm ?? 0),
    };
  }
}

export interface RssReading {
  before: number;
  after: number;
  peak: number;
  peakSampled: number;
  peakHwm?: number;
}

/**
 * One RssSampler per process of a registry: the distributed shape's limits hold for each process
 * (gateway, metadata and blob alike), so each is read on its own, never summed.
 */
export class RssGroup {
  private readonly samplers: { proc: Proc; sampler: RssSampler }[];

  constructor(procs: readonly Proc[], intervalMs = 20) {
    this.samplers = procs.map((proc) => ({ proc, sampler: new RssSampler(proc.pid, intervalMs) }));
  }

  start(): this {
    for (const s of this.samplers) s.sampler.start();
    return this;
  }

  stop(): (RssReading & Proc)[] {
    return this.samplers.map(({ proc, sampler }) => ({ ...proc, ...sampler.stop() }));
  }
}

/** The process that grew most (by peak over its start), the one a limit on every process is about. */
export function mostGrown<T extends { before: number; peak: number }>(readings: T[]): T | undefined {
  let best: T | undefined;
  for (const r of readings) if (!best || r.peak - r.before > best.peak - best.before) best = r;
  return best;
}
