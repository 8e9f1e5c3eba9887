import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { INTERNAL_TOKEN_HEADER } from '@wharf/contracts';

/**
 * True when the request carries the shared internal token. Both sides are hashed first so the
 * comparison takes the same time whatever the length or content of what was sent.
 */
export function hasInternalToken(req: IncomingMessage, expected: string): boolean {
  const given = req.headers[INTERNAL_TOKEN_HEADER];
  if (typeof given !== 'string') return false;
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}
