import { readFileSync, writeFileSync } from 'node:fs';

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

  private sample(): void {
    const v = readStatus(this.pid, 'VmRSS');
    if (v !== undefined && v > this.peakSampled) this.peakSampled = v;
  }

  /** Peak resident bytes seen since start(). */
  stop(): { before: number; peak: number; peakSampled: number; peakHwm?: number } {
    clearInterval(this.timer);
    this.sample();
    const hwm = this.hwmReset ? readStatus(this.pid, 'VmHWM') : undefined;
    return {
      before: this.before,
      peakSampled: this.peakSampled,
      peakHwm: hwm,
      peak: Math.max(this.peakSampled, hwm ?? 0),
    };
  }
}
