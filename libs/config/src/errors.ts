/** A value that stops the start; the message names the key so the operator knows what to fix. */
export class ConfigError extends Error {
  constructor(key: string, problem: string) {
    super(`invalid configuration ${key}: ${problem}`);
    this.name = 'ConfigError';
  }
}
