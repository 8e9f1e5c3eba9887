import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONFIG_KEYS, CONFIG_TABLES, type KeySpec } from './keys';
import { renderConfigTable, writeConfigTables } from './readme-tables';

const README = join(__dirname, '../../../README.md');

describe('README configuration tables', () => {
  it('are the ones the key declarations write (else run `npm run docs:config`)', () => {
    const readme = readFileSync(README, 'utf8');
    expect(writeConfigTables(readme)).toBe(readme);
  });

  it('list every key once in its own table, and the distributed table names the services', () => {
    const tables = Object.values(CONFIG_TABLES).flatMap((t) => Object.keys(t));
    expect(tables.sort()).toEqual(Object.keys(CONFIG_KEYS).sort());
    for (const [key, spec] of Object.entries(CONFIG_TABLES.distributed as Record<string, KeySpec>))
      expect({ key, services: spec.services }).toEqual({ key, services: expect.any(String) });
  });

  it('mark secrets, and say "unset" for an optional key without a default', () => {
    const general = renderConfigTable('general');
    expect(general).toMatch(/^\| `WHARF_DATABASE_URL` \(secret\) +\| unset +\|/m);
    expect(general).toMatch(/^\| `WHARF_HTTP_ADDR` +\| `:5000` +\|/m);
  });

  it('refuses a README that lacks a table or marks an unknown one', () => {
    expect(() => writeConfigTables('# no tables\n')).toThrow(/no markers for the config table\(s\) general/);
    const unknown =
      '<!-- BEGIN config table nope (npm run docs:config) -->\n<!-- END config table nope -->\n';
    expect(() => writeConfigTables(unknown)).toThrow(/unknown config table "nope"/);
  });
});
