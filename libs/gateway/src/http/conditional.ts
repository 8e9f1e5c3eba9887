/**
 * Whether a conditional header (`If-None-Match`, `If-Range`) names the entity tag `"<digest>"`
 * every manifest and blob answer carries: quoted or not, weak or strong, in a list, or `*`.
 */
export function etagMatches(header: string | undefined, digest: string): boolean {
  if (!header) return false;
  return header
    .split(',')
    .map((v) =>
      v
        .trim()
        .replace(/^W\//, '')
        .replace(/^"(.*)"$/, '$1'),
    )
    .some((v) => v === digest || v === '*');
}
