import type { ListRequest, ListResult } from '@wharf/contracts';
import { visiblePage } from './visible-page';

/** A sorted catalog answering like the metadata service (exclusive `last`, `more` flag). */
function catalog(names: string[]) {
  const sorted = [...names].sort();
  const calls: ListRequest[] = [];
  const list = async (p: ListRequest): Promise<ListResult> => {
    calls.push(p);
    const rest = sorted.filter((n) => p.last === undefined || n > p.last);
    const items = rest.slice(0, p.n);
    return { items, more: rest.length > items.length };
  };
  return { list, calls };
}

async function walk(names: string[], visible: (n: string) => boolean, n: number, batch?: number) {
  const { list } = catalog(names);
  const pages: string[][] = [];
  let last: string | undefined;
  for (;;) {
    const page = await visiblePage(list, visible, n, last, batch);
    pages.push(page.items);
    if (page.next === undefined) return pages;
    last = page.next;
  }
}

describe('filtered catalog pages', () => {
  const names = Array.from({ length: 30 }, (_, i) => `r${String(i).padStart(2, '0')}`);
  const even = (n: string) => Number(n.slice(1)) % 2 === 0;

  it('fills each page with visible names only and links to the next', async () => {
    const pages = await walk(names, even, 4, 3);
    expect(pages.flat()).toEqual(names.filter(even));
    expect(pages.slice(0, -1).every((p) => p.length === 4)).toBe(true);
  });

  it('sends no Link when the last visible name ends the page exactly', async () => {
    const pages = await walk(names, even, 15, 7);
    expect(pages).toHaveLength(1);
    expect(pages[0]).toHaveLength(15);
  });

  it('sends no Link when hidden names follow the last visible one', async () => {
    const { list } = catalog(['a', 'b', 'c', 'd']);
    const page = await visiblePage(list, (n) => n === 'a' || n === 'b', 2, undefined, 1);
    expect(page).toEqual({ items: ['a', 'b'] });
  });

  it('answers an empty page for a caller who sees nothing', async () => {
    expect(await walk(names, () => false, 5)).toEqual([[]]);
  });

  it('answers n=0 with an empty page and no Link without asking the service', async () => {
    const { list, calls } = catalog(names);
    expect(await visiblePage(list, () => true, 0, undefined)).toEqual({ items: [] });
    expect(calls).toHaveLength(0);
  });

  it('starts after `last`, exclusive', async () => {
    const { list } = catalog(names);
    const page = await visiblePage(list, even, 2, 'r10');
    expect(page.items).toEqual(['r12', 'r14']);
  });
});
