import { RegistryError } from './errors';

export interface PageSizeOptions {
  /** Larger requests are clamped to this, as Distribution 3.1.1 does for tags. */
  max?: number;
  /** The size when `n` is absent; undefined means "no limit". */
  defaultSize?: number;
}

/** The `n` query parameter of the tags list and the catalog. */
export function parsePageSize(n: string | undefined, options: PageSizeOptions = {}): number | undefined {
  // An empty `n=` counts as absent, as in Distribution.
  if (n === undefined || n === '') return options.defaultSize;
  if (!/^[0-9]+$/.test(n)) throw new RegistryError('PAGINATION_NUMBER_INVALID', undefined, { n });
  const size = Number(n);
  if (options.max !== undefined && size > options.max) return options.max;
  if (!Number.isSafeInteger(size)) throw new RegistryError('PAGINATION_NUMBER_INVALID', undefined, { n });
  return size;
}
