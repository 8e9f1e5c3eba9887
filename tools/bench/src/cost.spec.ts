import {
  costPerWork,
  countPerOp,
  countsDelta,
  cpuDelta,
  cpuTicks,
  emptySnapshot,
  fmt,
  isQuiet,
  netOfIdle,
  parseProcStat,
  perWork,
  rates,
  subjectsPerOp,
  unitOf,
  zeroFigures,
} from './cost-figures';
import { wrkGetScript } from './cost-load';
import { OP_IDS, parseCostOptions, parseOpList } from './cost-options';
import { roleOf } from './cost-probes';
import { markdown, type CostReport, type OpResult } from './cost-report';

// A real line of a process whose name holds a space and a ')': fields 14–17 are 11437 15848 7 3.
const STAT =
  '3019 (nats server) x) S 1 3017 3017 0 -1 4194304 127274 0 3 0 11437 15848 7 3 20 0 10 0 4514 ' +
  '1565667328 33383 18446744073709551615 4202496 10161521 140734320246784 0 0 0 1002057728 0';

describe('bench:cost figures', () => {
  it('reads utime, stime and the children’s times after the last parenthesis', () => {
    const t = parseProcStat(STAT);
    expect(t).toEqual({ ppid: 1, utime: 11437, stime: 15848, cutime: 7, cstime: 3 });
    expect(cpuTicks(t)).toBe(27285);
    expect(cpuTicks(t, true)).toBe(27295);
  });

  it('rejects what is not a stat line', () => {
    expect(() => parseProcStat('garbage')).toThrow(/not a \/proc/);
    expect(() => parseProcStat('1 (x) S 1 2')).toThrow(/field 14/);
  });

  it('sums CPU deltas per group: a new pid counts whole, a vanished one not at all', () => {
    const a = emptySnapshot();
    const b = emptySnapshot();
    a.gateway.set(10, 100);
    b.gateway.set(10, 350);
    a.postgres.set(20, 50); // this backend ended during the window
    b.postgres.set(21, 30); // this one started during it
    b.postgres.set(22, 40);
    a.postgres.set(22, 40);
    const d = cpuDelta(a, b);
    expect(d.gateway).toBeCloseTo(2.5);
    expect(d.postgres).toBeCloseTo(0.3);
    expect(d.metadata).toBe(0);
  });

  it('takes the idle rate off for the window’s length, never below zero', () => {
    const measured = { ...zeroFigures(), gateway: 2, metadata: 0.05 };
    const idle = rates({ ...zeroFigures(), gateway: 0.2, metadata: 0.1 }, 10);
    expect(idle.gateway).toBeCloseTo(0.02);
    const net = netOfIdle(measured, idle, 5);
    expect(net.gateway).toBeCloseTo(1.9);
    expect(net.metadata).toBe(0);
  });

  it('gives µs per operation or seconds per GB', () => {
    expect(perWork(0.5, { ops: 10_000 })).toBeCloseTo(50);
    expect(perWork(0.5, { bytes: 2e9 })).toBeCloseTo(0.25);
    expect(perWork(1, { ops: 0 })).toBeNaN();
    expect(unitOf({ ops: 1 })).toBe('µs/op');
    expect(unitOf({ bytes: 1 })).toBe('s/GB');
  });

  it('sums the services and leaves the load generator out', () => {
    const net = { ...zeroFigures(), gateway: 1, metadata: 0.5, nats: 0.25, postgres: 0.25, loadgen: 3 };
    const { perGroup, services } = costPerWork(net, { ops: 1e6 });
    expect(services).toBeCloseTo(2);
    expect(perGroup.loadgen).toBeCloseTo(3);
    expect(perGroup.gateway).toBeCloseTo(1);
  });

  it('splits counts by subject, net of each subject’s idle rate', () => {
    const a = new Map([['metadata.renewLease', 10]]);
    const b = new Map([
      ['metadata.renewLease', 23],
      ['metadata.getManifest', 200],
      ['metadata.getManifest (reply)', 200],
      ['metadata.recordPulls', 1],
    ]);
    const d = countsDelta(a, b);
    expect(d.get('metadata.renewLease')).toBe(13);
    // One renewal more than 12 s of idling makes: a timer's jitter, not the operations' doing.
    const per = subjectsPerOp(d, new Map([['metadata.renewLease', 1]]), 12, 100);
    expect(per).toEqual({
      'metadata.getManifest': 2,
      'metadata.getManifest (reply)': 2,
      'metadata.recordPulls': 0.01,
    });
    expect(Object.keys(per)[0]).toBe('metadata.getManifest');
    expect(subjectsPerOp(d, new Map(), 1, 0)).toEqual({});
  });

  it('calls the shape quiet when it does no more than idle, a tick per process aside', () => {
    const idle = { ...zeroFigures(), metadata: 0.01, nats: 5 };
    expect(isQuiet({ ...zeroFigures(), metadata: 0.02, gateway: 0.01, nats: 3 }, idle, 0.5)).toBe(true);
    expect(isQuiet({ ...zeroFigures(), metadata: 0.06 }, idle, 0.5)).toBe(false);
  });

  it('counts per operation net of the idle rate', () => {
    // 230 transactions in 12 s, 2.5/s of them background: 200 for 100 operations.
    expect(countPerOp(230, 2.5, 12, 100)).toBeCloseTo(2);
    expect(countPerOp(10, 2.5, 12, 100)).toBe(0);
    expect(countPerOp(10, 0, 1, 0)).toBeUndefined();
  });

  it('formats three significant figures', () => {
    expect(fmt(0.001234)).toBe('0.0012');
    expect(fmt(1.234)).toBe('1.23');
    expect(fmt(12.34)).toBe('12.3');
    expect(fmt(123.4)).toBe('123');
    expect(fmt(12345.6)).toBe('12,346');
    expect(fmt(0)).toBe('0');
    expect(fmt(undefined)).toBe('–');
    expect(fmt(NaN)).toBe('–');
  });
});

describe('bench:cost options', () => {
  it('has defaults for a full run', () => {
    const o = parseCostOptions([]);
    expect(o).toMatchObject({ seconds: 5, blobSize: 256 * 2 ** 20, pushes: 4, connections: 32, wrk: true });
    expect(o.ops).toEqual([...OP_IDS]);
  });

  it('takes a short run and a subset, in the report’s order', () => {
    const o = parseCostOptions([
      '--duration',
      '2',
      '--blob-size',
      '32m',
      '--ops',
      'push,get-tag',
      '--no-wrk',
    ]);
    expect(o).toMatchObject({ seconds: 2, blobSize: 32 * 2 ** 20, wrk: false });
    expect(o.ops).toEqual(['get-tag', 'push']);
  });

  it('refuses unknown operations and nonsense numbers', () => {
    expect(() => parseOpList('get-tag,pull')).toThrow(/unknown pull/);
    expect(() => parseCostOptions(['--pushes', '0'])).toThrow(/--pushes/);
    expect(() => parseCostOptions(['--duration', 'x'])).toThrow(/--duration/);
  });

  it('names roles from process names', () => {
    expect(roleOf('gateway-2')).toBe('gateway');
    expect(roleOf('metadata-1')).toBe('metadata');
    expect(roleOf('wharf')).toBeUndefined();
  });

  it('points wrk threads at each gateway with the one request', () => {
    const s = wrkGetScript(['http://127.0.0.1:1', 'http://127.0.0.1:2'], '/v2/a/manifests/latest', '*/*');
    expect(s).toContain('{ "127.0.0.1", "1" }, { "127.0.0.1", "2" }');
    expect(s).toContain('wrk.format(\'GET\', "/v2/a/manifests/latest"');
  });
});

describe('bench:cost report', () => {
  const figures = { ...zeroFigures(), gateway: 40, metadata: 1, nats: 2, postgres: 3, loadgen: 9 };
  const result: OpResult = {
    id: 'get-tag',
    label: 'manifest GET by tag',
    cluster: 'cached',
    driver: 'wrk',
    unit: 'µs/op',
    ops: 10_000,
    seconds: 2,
    cpuWindowSeconds: 3.5,
    rate: 5000,
    rateUnit: 'req/s',
    p50Ms: 1.5,
    p99Ms: 9,
    errors: 0,
    cpu: figures,
    services: 46,
    cpuSeconds: figures,
    pgBackends: 12,
    pgXactsPerOp: 0,
    natsMsgsPerOp: 0.01,
    natsBySubject: { 'metadata.recordPulls': 0.005, 'metadata.recordPulls (reply)': 0.005 },
  };
  const report: CostReport = {
    startedAt: '2025-01-01T00:00:00Z',
    finishedAt: '2025-01-01T00:05:00Z',
    machine: { cpus: 2, cpuModel: 'x', memoryGiB: 8, node: 'v22' },
    options: {},
    natsServerFound: true,
    clusters: [
      {
        key: 'cached',
        label: '1 gw, cache on',
        replicas: { gateway: 1, metadata: 1, blob: 1 },
        env: {},
        idle: {
          cpuSeconds: 2,
          cpuPerSecond: { ...zeroFigures(), gateway: 0.004 },
          countSeconds: 11,
          pgXactsPerSecond: 1.2,
          natsMsgsPerSecond: 2,
          natsBySubject: {},
        },
      },
    ],
    results: [result, { ...result, id: 'push', errors: 1, firstError: 'boom' }],
  };

  it('has one row per operation, the services’ sum in bold, and the idle rates', () => {
    const md = markdown(report);
    expect(md).toContain(
      '| manifest GET by tag | 1 gw, cache on | wrk 2.0 s | 5,000 req/s | 1.50 / 9.00 | µs/op | 40.0 | 1.00 | 0 | 2.00 | 3.00 | **46.0** | 9.00 | 0 | 0.0100 | 0 |',
    );
    expect(md).toContain('| 1 gw, cache on | 4.00 | 0 | 0 | 0 | 0 | 0 | 1.20 | 2.00 |');
    expect(md).toContain('- manifest GET by tag: 1 errors (boom)');
    expect(md).toContain(
      '- manifest GET by tag (1 gw, cache on): `metadata.recordPulls` 0.0050, `metadata.recordPulls (reply)` 0.0050',
    );
    expect(md.split('\n').filter((l) => l.startsWith('| ')).length).toBe(7);
  });
});
