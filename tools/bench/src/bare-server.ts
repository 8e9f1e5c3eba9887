/**
 * The bare Node baseline for blob GET: node:http and fs.createReadStream piped to the response,
 * nothing else (Range supported, as a registry must). `node bare-server.js <dir> [port]` serves
 * `<dir>/<name>` at `/<name>` on 127.0.0.1 and prints `{"port":N}` once listening.
 */
import { createReadStream, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { basename, join } from 'node:path';

const dir = process.argv[2];
const port = Number(process.argv[3] ?? 0);
if (!dir) {
  console.error('usage: bare-server <dir> [port]');
  process.exit(2);
}

const server = createServer((req, res) => {
  const file = join(dir, basename((req.url ?? '/').split('?')[0]));
  let size: number;
  try {
    size = statSync(file).size;
  } catch {
    res.writeHead(404, { 'content-length': 0 }).end();
    return;
  }
  const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
  const start = m ? Number(m[1]) : 0;
  const end = m ? Math.min(Number(m[2]), size - 1) : size - 1;
  res.writeHead(m ? 206 : 200, {
    'content-type': 'application/octet-stream',
    'content-length': end - start + 1,
    ...(m ? { 'content-range': `bytes ${start}-${end}/${size}` } : {}),
  });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  createReadStream(file, { start, end }).pipe(res);
});
server.keepAliveTimeout = 60_000;
server.listen(port, '127.0.0.1', () => {
  const address = server.address();
  console.log(JSON.stringify({ port: typeof address === 'object' && address ? address.port : port }));
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
