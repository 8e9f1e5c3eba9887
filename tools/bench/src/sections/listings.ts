import { performance } from 'node:perf_hooks';
import type { Bench } from '../bench';
import { EMPTY_INDEX, labelledIndex, layerOf, makeImage, MT_OCI_INDEX } from '../client';
import { Content } from '../content';
import type { MetricSpec, Side, SideKey } from '../model';
import { median, percentile } from '../stats';

// Tags list and catalog pages at growing listing sizes, seeded up to a time budget per level.

const TAGS_REPO = 'bench/tags';
const CATALOG_PREFIX = 'bench-catalog';

export async function listingSection(b: Bench): Promise<void> {
  const tiny = new Content('catalog-layer', 512);
  const image = makeImage('catalog', [layerOf(tiny)]);
  const blobs = new Map([[tiny.digest(), tiny]]);
  for (const side of b.registries) {
    await side.client.pushImage(TAGS_REPO, tagName(0), image, blobs);
  }
  const seeded = new Map<SideKey, { tags: number; repos: number }>(
    b.registries.map((s) => [s.key, { tags: 0, repos: 0 }]),
  );
  for (const level of b.opts.listingSizes) {
    for (const side of b.registries) {
      const have = seeded.get(side.key)!;
      have.tags = await seed(b, side, 'tags', have.tags, level, async (i) =>
        side.client.putManifestBytes(TAGS_REPO, tagName(i), MT_OCI_INDEX, labelledIndex(tagName(i))),
      );
      // Two requests per repository: an empty index (it references no blob), and one blob mounted,
      // without which Distribution's catalog does not see the repository (it looks for _layers).
      have.repos = await seed(b, side, 'repositories', have.repos, level, async (i) => {
        const repo = repoName(i);
        if (!(await side.client.mount(repo, tiny.digest(), TAGS_REPO))) throw new Error('mount refused');
        await side.client.putManifestBytes(repo, 'latest', MT_OCI_INDEX, EMPTY_INDEX);
      });
    }
    await measurePages(b, level, seeded);
  }
}

/** Brings a side from `from` to `to` entries, unless the budget runs out; answers the count reached. */
async function seed(
  b: Bench,
  side: Side,
  what: 'tags' | 'repositories',
  from: number,
  to: number,
  put: (i: number) => Promise<void>,
): Promise<number> {
  if (from >= to) return from;
  const probe =
    what === 'tags'
      ? () => side.client.manifestExists(TAGS_REPO, tagName(to - 1))
      : () => side.client.manifestExists(repoName(to - 1), 'latest');
  if (await probe()) {
    b.opts.log(`  ${side.label}: ${to} ${what} already there`);
    return to;
  }
  const spec: MetricSpec = {
    id: `seed.${what}`,
    section: 'seeding (manifest PUT, c=' + b.opts.seedConcurrency + ')',
    name: what === 'tags' ? 'PUT manifest by new tag' : 'new repository (mount + PUT of an empty index)',
    unit: what === 'tags' ? 'PUT/s' : 'repos/s',
    better: 'higher',
  };
  const t0 = performance.now();
  const deadline = t0 + b.opts.seedBudgetS * 1000;
  let next = from;
  let done = from;
  let lastLog = t0;
  const worker = async (): Promise<void> => {
    while (next < to && performance.now() < deadline) {
      const i = next++;
      await put(i);
      done++;
      if (performance.now() - lastLog > 10_000) {
        lastLog = performance.now();
        const rate = (done - from) / ((lastLog - t0) / 1000);
        b.opts.log(`  ${side.label}: ${done}/${to} ${what} (${rate.toFixed(0)}/s)`);
      }
    }
  };
  await Promise.all(Array.from({ length: b.opts.seedConcurrency }, worker));
  const s = (performance.now() - t0) / 1000;
  // Entries were claimed in order, so [0, next) were all put once every worker has returned.
  b.record(spec, side.key, (next - from) / s);
  b.opts.log(
    `  ${side.label}: seeded ${what} ${from}..${next} in ${s.toFixed(1)} s (${((next - from) / s).toFixed(0)}/s)`,
  );
  if (next < to)
    b.opts.log(`  ${side.label}: seed budget of ${b.opts.seedBudgetS} s ran out at ${next} ${what}`);
  return next;
}

async function measurePages(b: Bench, level: number, seeded: Map<SideKey, { tags: number; repos: number }>) {
  const { pageSize: n, pagesPerRound: pages, rounds } = b.opts;
  const label = level >= 1000 && level % 1000 === 0 ? `${level / 1000}k` : String(level);
  for (let round = 0; round < rounds; round++) {
    for (const kind of ['tags', 'catalog'] as const) {
      const spec = (agg: 'p50' | 'p99'): MetricSpec => ({
        id: `listing.${kind}.${level}.${agg}`,
        section: 'tags list / catalog',
        name: `${kind === 'tags' ? 'tags list' : 'catalog'}, ${label} entries, n=${n}, ${agg} per page`,
        unit: 'ms',
        better: 'lower',
        aggregate: agg,
        goals: agg === 'p99' && level >= 100_000 ? [{ kind: 'abs-max', value: 50 }] : undefined,
      });
      const entries: MetricSpec = {
        id: `listing.${kind}.${level}.entries`,
        section: 'tags list / catalog',
        name: `${kind === 'tags' ? 'tags list' : 'catalog'}, ${label} entries: entries per page`,
        unit: 'entries',
        better: 'higher',
      };
      for (const side of b.order(round, b.registries)) {
        const have = seeded.get(side.key)!;
        const count = kind === 'tags' ? have.tags : have.repos;
        if (count < level) {
          b.fail(spec('p99'), side.key, new Error(`only ${count} of ${level} entries could be seeded`));
        }
        if (!count) continue;
        const lat: number[] = [];
        const got: number[] = [];
        try {
          // One untimed page first, on every side alike: what follows measures pages, not a cold start.
          await side.client.call(
            'GET',
            kind === 'tags' ? `/v2/${TAGS_REPO}/tags/list?n=${n}` : `/v2/_catalog?n=${n}`,
          );
          const k = Math.min(pages, Math.ceil(count / n));
          for (let p = 0; p < k; p++) {
            // Pages start at offsets spread over the listing, shifted a little each round.
            const offset = Math.floor(((p + round / rounds) * count) / k);
            const last =
              offset === 0 ? undefined : kind === 'tags' ? tagName(offset - 1) : repoName(offset - 1);
            const base = kind === 'tags' ? `/v2/${TAGS_REPO}/tags/list` : '/v2/_catalog';
            const path = `${base}?n=${n}${last ? `&last=${encodeURIComponent(last)}` : ''}`;
            const a = performance.now();
            const r = await side.client.call('GET', path);
            lat.push(performance.now() - a);
            const doc = JSON.parse(r.body.toString()) as { tags?: string[]; repositories?: string[] };
            const items = (kind === 'tags' ? doc.tags : doc.repositories) ?? [];
            if (!items.length) throw new Error(`${path}: empty page`);
            got.push(items.length);
          }
          b.record(spec('p50'), side.key, ...lat);
          b.record(spec('p99'), side.key, ...lat);
          b.record(entries, side.key, ...got);
          b.opts.log(
            `  r${round} ${side.label.padEnd(12)} ${kind.padEnd(8)} ${label.padStart(5)}: ${k} pages, p50 ${percentile(lat, 50).toFixed(1)} ms, p99 ${percentile(lat, 99).toFixed(1)} ms, ${median(got)} entries/page`,
          );
        } catch (e) {
          b.fail(spec('p99'), side.key, e);
        }
      }
    }
  }
}

export function tagName(i: number): string {
  return `t${String(i).padStart(6, '0')}`;
}

export function repoName(i: number): string {
  return `${CATALOG_PREFIX}/r${String(i).padStart(6, '0')}`;
}
