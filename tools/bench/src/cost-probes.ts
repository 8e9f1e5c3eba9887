/**
 * What `bench:cost` reads around each window: the CPU of every process that serves a request
 * (the services, the machine's nats-server, this shape's Postgres backends), the load generator's,
 * the Postgres transactions of the shape's database, and (in separate passes, since counting costs
 * NATS work of its own) the NATS messages of the shape's subject prefix.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect, type Msg, type NatsConnection, type NatsError } from 'nats';
import { Client } from 'pg';
import { cpuTicks, emptySnapshot, parseProcStat, type CpuSnapshot, type ProcTimes } from './cost-figures';
import type { Proc } from './model';

function readTimes(pid: number | 'self'): ProcTimes | undefined {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'latin1'));
  } catch {
    return undefined;
  }
}

/** Every running nats-server (one on these machines; other users' traffic on it counts too). */
export function natsServerPids(): number[] {
  try {
    return execFileSync('pgrep', ['-x', 'nats-server'], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

type Role = 'gateway' | 'metadata' | 'blob';

/** The role of a process of the distributed shape from its name (`gateway-2` → gateway). */
export function roleOf(name: string): Role | undefined {
  const role = name.replace(/-\d+$/, '');
  return role === 'gateway' || role === 'metadata' || role === 'blob' ? role : undefined;
}

export class Probes {
  private readonly roles: Record<Role, number[]> = { gateway: [], metadata: [], blob: [] };
  private readonly nats = natsServerPids();

  private constructor(
    private readonly pg: Client,
    private readonly database: string,
    processes: Proc[],
  ) {
    for (const p of processes) {
      const role = roleOf(p.name);
      if (role) this.roles[role].push(p.pid);
    }
  }

  /** A monitoring connection to the `postgres` database, so that it is none of the measured backends. */
  static async open(database: string, processes: Proc[]): Promise<Probes> {
    const pg = new Client({
      host: process.env.PGHOST ?? '127.0.0.1',
      user: process.env.PGUSER ?? 'postgres',
      database: 'postgres',
    });
    await pg.connect();
    return new Probes(pg, database, processes);
  }

  get natsFound(): boolean {
    return this.nats.length > 0;
  }

  close(): Promise<void> {
    return this.pg.end();
  }

  /**
   * The client backends of the shape's database. Postgres's background processes (WAL writer,
   * checkpointer, autovacuum) serve every database at once and are left out.
   */
  async backends(): Promise<number[]> {
    const r = await this.pg.query<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity WHERE datname = $1 AND backend_type = 'client backend'`,
      [this.database],
    );
    return r.rows.map((row) => Number(row.pid));
  }

  async cpu(): Promise<CpuSnapshot> {
    const backends = await this.backends();
    const snap = emptySnapshot();
    const put = (map: Map<number, number>, pids: number[]) => {
      for (const pid of pids) {
        const t = readTimes(pid);
        if (t) map.set(pid, cpuTicks(t));
      }
    };
    put(snap.gateway, this.roles.gateway);
    put(snap.metadata, this.roles.metadata);
    put(snap.blob, this.roles.blob);
    put(snap.nats, this.nats);
    put(snap.postgres, backends);
    // This process and the wrk runs it waited for: the load generator, reported but never summed in.
    const self = readTimes('self');
    if (self) snap.loadgen.set(process.pid, cpuTicks(self, true));
    return snap;
  }

  /** Transactions committed and rolled back in the shape's database (pg_stat_database). */
  async xacts(): Promise<number> {
    const r = await this.pg.query<{ n: string }>(
      `SELECT (xact_commit + xact_rollback)::text AS n FROM pg_stat_database WHERE datname = $1`,
      [this.database],
    );
    return r.rows.length ? Number(r.rows[0].n) : NaN;
  }
}

/**
 * Counts the NATS messages of one subject prefix: every message on `<prefix>.>` (requests,
 * invalidations, events) plus the replies to them, which travel on `_INBOX.…` subjects and are
 * recognised by the reply subject the request carried. The server delivers a request to this
 * connection before anyone can answer it, so a reply never arrives before its request.
 * JetStream's own traffic (`$JS.…`, stream replication) is not counted.
 */
export class NatsCounter {
  private readonly bySubject = new Map<string, number>();
  /** Reply subject → the subject of the request that carried it. */
  private readonly inboxes = new Map<string, string>();
  private error?: Error;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly prefix: string,
  ) {}

  static async start(url: string, prefix: string): Promise<NatsCounter> {
    const nc = await connect({ servers: url, name: 'wharf-bench-cost-counter' });
    const counter = new NatsCounter(nc, prefix);
    nc.subscribe(`${prefix}.>`, { callback: (err, msg) => counter.onPublished(err, msg) });
    nc.subscribe('_INBOX.>', { callback: (err, msg) => counter.onInbox(err, msg) });
    // The subscriptions are in place once the server answered a round trip after them.
    await nc.flush();
    return counter;
  }

  private add(key: string): void {
    this.bySubject.set(key, (this.bySubject.get(key) ?? 0) + 1);
  }

  private onPublished(err: NatsError | null, msg: Msg): void {
    if (err) this.error ??= err;
    const subject = msg.subject.slice(this.prefix.length + 1);
    this.add(subject);
    if (msg.reply) this.inboxes.set(msg.reply, subject);
  }

  private onInbox(err: NatsError | null, msg: Msg): void {
    if (err) this.error ??= err;
    const request = this.inboxes.get(msg.subject);
    if (request !== undefined) this.add(`${request} (reply)`);
  }

  /** Messages counted so far, by subject without the prefix (replies as `<subject> (reply)`). */
  counts(): Map<string, number> {
    if (this.error) throw this.error;
    return new Map(this.bySubject);
  }

  async stop(): Promise<void> {
    await this.nc.drain();
    this.inboxes.clear();
  }
}
