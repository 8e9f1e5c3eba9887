// After `tsc`, make `@wharf/<lib>` resolvable from dist/ without a runtime path hook: Node walks up
// from dist/apps/<app>/src to dist/node_modules, where each lib gets a tiny package.json.
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const libs = fs.readdirSync(path.join(root, 'libs'));
for (const lib of libs) {
  const dir = path.join(root, 'dist', 'node_modules', '@wharf', lib);
  fs.mkdirSync(dir, { recursive: true });
  const main = path.relative(dir, path.join(root, 'dist', 'libs', lib, 'src', 'index.js'));
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: `@wharf/${lib}`, main }) + '\n');
}
