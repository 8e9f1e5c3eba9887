import type { WharfConfig } from './config';

/**
 * What an operator needs from the first lines of a start: where it answers, where the data lives,
 * who may use it. The message repeats the essentials so a terminal without a JSON viewer shows them.
 */
export function startupLine(
  what: string,
  url: string,
  fields: Record<string, string>,
): { fields: Record<string, string>; msg: string } {
  const details = Object.entries(fields)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  return { fields: { url, ...fields }, msg: `${what} listening on ${url}${details ? ` (${details})` : ''}` };
}

/**
 * The default address is every interface, and the default auth mode lets anyone push and delete:
 * right for a laptop behind a firewall, wrong for a host on a shared network, so it is said out loud.
 */
export function exposureWarning(config: Pick<WharfConfig, 'http' | 'auth'>): string | undefined {
  const everywhere = ['0.0.0.0', '::', ''].includes(config.http.host);
  if (!everywhere || config.auth.mode !== 'none') return undefined;
  return (
    `listening on every interface (port ${config.http.port}) with WHARF_AUTH_MODE=none: anyone who can ` +
    `reach this port can push and delete images; set WHARF_HTTP_ADDR=127.0.0.1:${config.http.port} ` +
    'or WHARF_AUTH_MODE=basic|token'
  );
}
