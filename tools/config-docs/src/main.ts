/**
 * `npm run docs:config`: rewrites the README's configuration tables from the key declarations in
 * libs/config/src/keys. The unit test libs/config/src/readme-tables.spec.ts fails until it has run.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { writeConfigTables } from '@wharf/config';

const file = resolve(process.argv[2] ?? 'README.md');
const before = readFileSync(file, 'utf8');
const after = writeConfigTables(before);
if (after === before) {
  console.log(`${file}: configuration tables up to date`);
} else {
  writeFileSync(file, after);
  console.log(`${file}: configuration tables rewritten`);
}
