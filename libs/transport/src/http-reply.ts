import { Logger } from '@nestjs/common';
import type { Dispatcher } from 'undici';
import { replyOf, type Check, type Reply } from '@wharf/contracts';
import { RegistryError } from '@wharf/oci';
import { unavailable } from './upstreams';

const log = new Logger('internal-http');

/**
 * The Reply in an internal port's answer. Whatever else comes back (a proxy's error page, a body
 * cut short, JSON of another shape) is logged here with the status and the start of the body, and
 * becomes an error the gateway can answer with: 503 UNAVAILABLE when the status says the service
 * could not be reached behind a proxy (502-504), else 500 UNKNOWN. No detail of it leaves.
 */
export async function readReply<T>(
  res: Dispatcher.ResponseData,
  check: Check<T>,
  service: string,
  what: string,
): Promise<Reply<T>> {
  if (res.statusCode === 401) {
    await res.body.dump();
    throw new Error(`the ${service} service rejected WHARF_INTERNAL_TOKEN`);
  }
  let text: string;
  try {
    text = await res.body.text();
  } catch (e) {
    throw unavailable(service, e);
  }
  try {
    return replyOf(check)(JSON.parse(text), 'reply');
  } catch (e) {
    log.error(
      `${what}: the ${service} service answered ${res.statusCode} with no reply this registry can read ` +
        `(${(e as Error).message}): ${JSON.stringify(text.slice(0, 200))}`,
    );
    if (res.statusCode >= 502 && res.statusCode <= 504)
      throw new RegistryError('UNAVAILABLE', `${service} service unavailable`);
    throw new RegistryError('UNKNOWN');
  }
}
