// Lint keeps the architecture of DESIGN.md honest: arrows point apps -> feature libs ->
// contracts/util -> domain, no feature lib reaches into another, and each project imports only the
// projects listed for it below.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';

const require = createRequire(import.meta.url);
const ROOT = dirname(fileURLToPath(import.meta.url));

/**
 * What each project may import, by its `scope:*` tag (one per project.json). A new import between
 * projects, or a new project, is a decision: it is made here, where the layering can be seen whole.
 * Util libs come in two layers: config, observability, database, embedded-postgres and storage use
 * no other util lib; transport and auth build on the first ones.
 */
const MAY_USE = {
  // domain
  oci: [],
  schema1: ['oci'],
  // contract
  contracts: ['oci'],
  // util
  config: ['contracts', 'oci'],
  observability: [],
  database: ['oci'],
  'embedded-postgres': [],
  storage: ['contracts', 'oci'],
  transport: ['config', 'contracts', 'database', 'observability', 'oci', 'storage'],
  auth: ['config', 'contracts', 'oci'],
  proxy: ['config', 'contracts', 'observability', 'oci'],
  // feature: the gateway reaches metadata and blob only through contracts
  gateway: ['auth', 'config', 'contracts', 'database', 'observability', 'oci', 'proxy'],
  metadata: ['config', 'contracts', 'database', 'observability', 'oci', 'schema1', 'transport'],
  blob: ['contracts', 'database', 'observability', 'oci', 'storage', 'transport'],
  // apps: each distributed service bundles its own feature lib and no other
  registry: [
    'blob',
    'config',
    'database',
    'embedded-postgres',
    'gateway',
    'metadata',
    'observability',
    'storage',
    'transport',
  ],
  'gateway-app': ['config', 'gateway', 'observability', 'transport'],
  'metadata-app': ['config', 'contracts', 'metadata', 'observability', 'transport'],
  'blob-app': ['blob', 'config', 'contracts', 'observability', 'storage', 'transport'],
  cli: ['blob', 'config', 'contracts', 'embedded-postgres', 'metadata', 'storage'],
  migrate: ['blob', 'config', 'metadata'],
};

/** Frameworks and I/O clients: the domain and the wire contracts stay free of them. */
const IO_PACKAGES = [
  '@nestjs/*',
  '@opentelemetry/*',
  'fastify',
  'minio',
  'nats',
  'pg',
  'pino',
  'typeorm',
  'undici',
];

/**
 * Without Nx's cached project graph, @nx/enforce-module-boundaries prints a warning and checks
 * nothing, and with a stale one it checks against old projects and tags. Either stops the lint here
 * instead. `npm run lint` refreshes the graph first (`nx show projects`).
 */
function projectGraph() {
  const { readCachedProjectGraph } = require('@nx/devkit');
  const { readFileMapCache } = require('@nx/devkit/internal');
  const fix = 'run `npx nx show projects` first (`npm run lint` does)';
  let graph;
  try {
    graph = readCachedProjectGraph();
  } catch {
    graph = undefined;
  }
  if (!graph || !readFileMapCache())
    throw new Error(`ESLint needs Nx's project graph for @nx/enforce-module-boundaries: ${fix}`);
  const onDisk = ['apps', 'libs'].flatMap((top) =>
    readdirSync(join(ROOT, top))
      .map((dir) => join(ROOT, top, dir, 'project.json'))
      .filter((file) => existsSync(file))
      .map((file) => JSON.parse(readFileSync(file, 'utf8'))),
  );
  const tagsOf = (tags) => JSON.stringify([...(tags ?? [])].sort());
  const stale =
    onDisk.find((p) => tagsOf(graph.nodes[p.name]?.data.tags) !== tagsOf(p.tags))?.name ??
    Object.keys(graph.nodes).find((name) => !onDisk.some((p) => p.name === name));
  if (stale !== undefined) throw new Error(`Nx's cached project graph is out of date (${stale}): ${fix}`);
  return graph;
}

/** Every project names its scope once, and MAY_USE knows every scope it mentions. */
function checkScopes(graph) {
  const scopes = new Set(Object.keys(MAY_USE));
  for (const [scope, uses] of Object.entries(MAY_USE))
    for (const dep of uses)
      if (!scopes.has(dep)) throw new Error(`eslint.config.mjs: ${scope} may use unknown ${dep}`);
  for (const node of Object.values(graph.nodes)) {
    const tags = node.data.tags ?? [];
    if (tags.includes('type:e2e')) continue;
    const own = tags.filter((t) => t.startsWith('scope:')).map((t) => t.slice('scope:'.length));
    if (own.length !== 1 || !scopes.has(own[0]))
      throw new Error(`project ${node.name} needs one scope:* tag that MAY_USE in eslint.config.mjs lists`);
  }
}

checkScopes(projectGraph());

export default [
  { ignores: ['**/dist', '**/node_modules', '**/.nx', 'data/**', 'coverage/**'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    plugins: { '@nx': nx },
    rules: {
      '@nx/enforce-module-boundaries': [
        'error',
        {
          // e2e tests boot the all-in-one composition root in-process.
          allow: ['@wharf/registry-app'],
          enforceBuildableLibDependency: false,
          depConstraints: [
            {
              sourceTag: 'type:domain',
              onlyDependOnLibsWithTags: ['type:domain'],
              bannedExternalImports: IO_PACKAGES,
            },
            {
              sourceTag: 'type:contract',
              onlyDependOnLibsWithTags: ['type:domain'],
              bannedExternalImports: IO_PACKAGES,
            },
            {
              sourceTag: 'type:util',
              onlyDependOnLibsWithTags: ['type:domain', 'type:contract', 'type:util'],
            },
            {
              sourceTag: 'type:feature',
              onlyDependOnLibsWithTags: ['type:domain', 'type:contract', 'type:util'],
            },
            {
              sourceTag: 'type:app',
              onlyDependOnLibsWithTags: ['type:feature', 'type:domain', 'type:contract', 'type:util'],
            },
            {
              sourceTag: 'type:e2e',
              onlyDependOnLibsWithTags: [
                'type:app',
                'type:feature',
                'type:domain',
                'type:contract',
                'type:util',
              ],
            },
            ...Object.entries(MAY_USE).map(([scope, uses]) => ({
              sourceTag: `scope:${scope}`,
              onlyDependOnLibsWithTags: uses.map((dep) => `scope:${dep}`),
            })),
          ],
        },
      ],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
    },
  },
  {
    files: ['**/*.spec.ts', '**/testing/**/*.ts', 'apps/registry-e2e/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off', '@typescript-eslint/no-non-null-assertion': 'off' },
  },
  {
    files: ['**/*.cjs', '**/*.js'],
    languageOptions: {
      globals: {
        require: 'readonly',
        module: 'writable',
        process: 'readonly',
        __dirname: 'readonly',
        console: 'readonly',
      },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
];
