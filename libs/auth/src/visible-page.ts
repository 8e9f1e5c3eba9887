import type { ListRequest, ListResult } from '@wharf/contracts';

export interface VisiblePage {
  items: string[];
  /** Where the next page starts (the `last` of the Link), or undefined when nothing follows. */
  next?: string;
}

/** Names looked at per request at most, so a caller who may see little cannot make one request scan everything. */
const SCAN_BUDGET = 50_000;

/**
 * One page of a listing filtered by `visible`, paginated as if the hidden names did not exist: it
 * reads on from the metadata service until it has `n` visible names and knows whether another
 * follows. When the scan budget runs out first, the page is short and the Link continues after the
 * last name *looked at*, so a client that follows Links still sees every visible name exactly once.
 */
export async function visiblePage(
  list: (page: ListRequest) => Promise<ListResult>,
  visible: (name: string) => boolean,
  n: number,
  last: string | undefined,
  batch = Math.min(Math.max(n + 1, 100), 1000),
): Promise<VisiblePage> {
  const items: string[] = [];
  if (n <= 0) return { items };
  let cursor = last;
  let scanned = 0;
  for (;;) {
    const page = await list({ n: batch, last: cursor });
    for (const name of page.items) {
      if (visible(name)) {
        // A visible name beyond the page is the proof that a next page exists.
        if (items.length === n) return { items, next: items[n - 1] };
        items.push(name);
      }
      cursor = name;
    }
    scanned += page.items.length;
    if (!page.more || page.items.length === 0) return { items };
    if (scanned >= SCAN_BUDGET) return { items, next: cursor };
  }
}
