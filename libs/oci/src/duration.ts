const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

const DURATION_REGEX = /^([0-9]+)(ms|s|m|h)$/;

/**
 * A configuration duration (`<n>ms|s|m|h`) in milliseconds. A plain Error, not a RegistryError:
 * this fails at start-up, and the config loader names the key.
 */
export function parseDuration(value: string): number {
  const match = typeof value === 'string' ? DURATION_REGEX.exec(value) : null;
  const ms = match ? Number(match[1]) * UNIT_MS[match[2]] : NaN;
  if (!Number.isSafeInteger(ms)) {
    throw new Error(`invalid duration ${JSON.stringify(value)}: expected <n>ms, <n>s, <n>m or <n>h`);
  }
  return ms;
}
