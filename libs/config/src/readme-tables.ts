import { CONFIG_KEYS, CONFIG_TABLES, type KeySpec } from './keys';

/**
 * The README's configuration tables, written from the key declarations (keys/) by
 * `npm run docs:config`; a unit test fails while the README differs from what this renders.
 * Each table sits between a pair of markers:
 *
 *     <!-- BEGIN config table general (npm run docs:config) -->
 *     <!-- END config table general -->
 */
export type ConfigTableName = keyof typeof CONFIG_TABLES;

const MARKED = /(<!-- BEGIN config table ([a-z]+) [^\n]*-->\n)[\s\S]*?(<!-- END config table \2 -->)/g;

/** The README with every marked table rewritten; a table it does not mark is an error. */
export function writeConfigTables(readme: string): string {
  const seen = new Set<string>();
  const out = readme.replace(MARKED, (_all, begin: string, name: string, end: string) => {
    if (!(name in CONFIG_TABLES)) throw new Error(`README marks an unknown config table "${name}"`);
    seen.add(name);
    return `${begin}\n${renderConfigTable(name as ConfigTableName)}\n\n${end}`;
  });
  const missing = Object.keys(CONFIG_TABLES).filter((name) => !seen.has(name));
  if (missing.length) throw new Error(`README has no markers for the config table(s) ${missing.join(', ')}`);
  return out;
}

/** One table, aligned the way Prettier formats Markdown tables (so `prettier --check` agrees). */
export function renderConfigTable(name: ConfigTableName): string {
  const specs = Object.entries(CONFIG_KEYS as Record<string, KeySpec>);
  if (name !== 'distributed') {
    const keys = new Set(Object.keys(CONFIG_TABLES[name]));
    return aligned(
      ['Key', 'Default', 'Meaning'],
      specs
        .filter(([key]) => keys.has(key))
        .map(([key, spec]) => [keyCell(key, spec), defaultCell(spec), spec.doc]),
    );
  }
  // The distributed shape's own keys first, then those of other tables its services read too.
  const own = new Set(Object.keys(CONFIG_TABLES.distributed));
  const listed = [
    ...specs.filter(([key]) => own.has(key)),
    ...specs.filter(([key, spec]) => !own.has(key) && spec.services),
  ];
  return aligned(
    ['Key', 'Services', 'Default', 'Meaning'],
    listed.map(([key, spec]) => [
      keyCell(key, spec),
      spec.services ?? '',
      spec.distributed?.default ?? defaultCell(spec),
      spec.distributed?.doc ?? spec.doc,
    ]),
  );
}

function keyCell(key: string, spec: KeySpec): string {
  return `\`${key}\`${spec.secret ? ' (secret)' : ''}`;
}

function defaultCell(spec: KeySpec): string {
  if (spec.defaultDoc !== undefined) return spec.defaultDoc;
  if (spec.default === undefined) return 'unset';
  return spec.default === '' ? 'empty' : `\`${spec.default}\``;
}

function aligned(header: string[], rows: string[][]): string {
  const cells = [header, ...rows].map((row) => row.map((c) => c.replace(/\|/g, '\\|')));
  const widths = header.map((_, i) => Math.max(3, ...cells.map((row) => width(row[i]))));
  const line = (row: string[]): string =>
    `| ${row.map((c, i) => c + ' '.repeat(widths[i] - width(c))).join(' | ')} |`;
  const [head, ...body] = cells.map(line);
  return [head, `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...body].join('\n');
}

/** Columns a cell takes: one per code point, as long as no character is one Prettier counts as wide. */
function width(cell: string): number {
  if (
    /[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\u{1f000}-\u{1faff}]/u.test(
      cell,
    )
  )
    throw new Error(`config docs: "${cell}" has a wide character; say it without one`);
  return [...cell].length;
}
