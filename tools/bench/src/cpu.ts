import { readdirSync, readFileSync } from 'node:fs';
import type { Proc } from './model';

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ: 100 on every Linux that matters). */
const TICKS = 100;

function stat(pid: number): { ppid: number; cpu: number } | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // The command name may contain spaces and parentheses: fields start after the last ')'.
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(f[1]), cpu: Number(f[11]) + Number(f[12]) };
  } catch {
    return undefined;
  }
}

/**
 * CPU seconds used so far by processes and all their descendants (for the all-in-one: the registry
 * and its embedded PostgreSQL, whose work a pull costs too; for the distributed shape: every
 * gateway, metadata and blob process). One walk of /proc however many roots. Much steadier than
 * throughput on a busy machine.
 */
export function treeCpuSeconds(roots: number | readonly number[]): number {
  const children = new Map<number, number[]>();
  const cpu = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    const s = stat(pid);
    if (!s) continue;
    cpu.set(pid, s.cpu);
    const list = children.get(s.ppid) ?? [];
    list.push(pid);
    children.set(s.ppid, list);
  }
  let total = 0;
  const seen = new Set<number>();
  const stack = typeof roots === 'number' ? [roots] : [...roots];
  while (stack.length) {
    const pid = stack.pop()!;
    if (seen.has(pid)) continue;
    seen.add(pid);
    total += cpu.get(pid) ?? 0;
    stack.push(...(children.get(pid) ?? []));
  }
  return total / TICKS;
}

/** CPU seconds so far of every process of a registry; undefined when its processes are unknown. */
export function processesCpuSeconds(procs: readonly Proc[]): number | undefined {
  return procs.length ? treeCpuSeconds(procs.map((p) => p.pid)) : undefined;
}
