import { Logger } from '@nestjs/common';
import { WatchedFile } from '@wharf/config';
import { NO_RULES, parseRules, type Rules } from './rules-file';

/** The rules in force (REPOSITORY_RULES): WHARF_RULES, re-read when it changes. */
export const REPOSITORY_RULES = Symbol('REPOSITORY_RULES');

export interface RepositoryRules {
  /** The rules now; looks for a change of the file at most once a second. */
  current(): Promise<Rules>;
}

export const NO_REPOSITORY_RULES: RepositoryRules = { current: async () => NO_RULES };

/**
 * Reads the rules file at start (a bad file stops the start, naming the line) and again whenever it
 * changes; a change that does not parse keeps the rules in force and says why in the log.
 */
export async function loadRepositoryRules(file: string | undefined): Promise<RepositoryRules> {
  if (!file) return NO_REPOSITORY_RULES;
  const log = new Logger('Rules');
  const watched = await WatchedFile.load(file, (text) => parseRules(text, file), {
    onError: (e) =>
      log.error(`WHARF_RULES changed but cannot be used, keeping the previous version: ${e.message}`),
    onReload: (rules) => log.log(`WHARF_RULES reloaded: ${summary(rules)}`),
  });
  log.log(`WHARF_RULES ${file}: ${summary(await watched.get())}`);
  return { current: () => watched.get() };
}

function summary(rules: Rules): string {
  return `${rules.immutable.length} immutable, ${rules.quotas.length} quota, ${rules.retention.length} retention rules`;
}
