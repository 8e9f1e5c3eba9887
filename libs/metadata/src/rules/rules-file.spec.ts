/**
 * The rules file (WHARF_RULES): the example of the README parses to what it says; every mistake is
 * refused with the line it is on; sizes in binary units, durations as everywhere.
 */
import { NO_RULES, RulesError, namespaceOf, parseRules, parseSize } from './rules-file';

const FILE = '/etc/wharf/rules.yaml';

const EXAMPLE = `# the README's example
immutable:                          # once pushed, these tags never move and cannot be deleted
  - repositories: ['release/**']
    tags: ['v*']
quotas:
  - namespaces: ['team']
    limit: 50GiB
retention:
  - repositories: ['ci/**']
    keepLatest: 10
    keepTags: ['main', 'v*']
    keepNewerThan: 720h
  - repositories: ['hub/**']
    keepPulledWithin: 720h
`;

/** The message of the error parsing `text` raises (the test fails when it parses). */
function errorOf(text: string): string {
  try {
    parseRules(text, FILE);
  } catch (e) {
    expect(e).toBeInstanceOf(RulesError);
    return (e as Error).message;
  }
  throw new Error(`parsed, expected an error:\n${text}`);
}

const lineOf = (message: string): number | undefined => {
  const m = /^invalid rules \/etc\/wharf\/rules\.yaml line (\d+): /.exec(message);
  return m ? Number(m[1]) : undefined;
};

describe('rules file', () => {
  it('parses the example: each rule with its line, sizes and durations in bytes and ms', () => {
    const rules = parseRules(EXAMPLE, FILE);
    expect(rules.empty).toBe(false);
    expect(rules.immutable.map((r) => [r.file, r.line])).toEqual([[FILE, 3]]);
    expect(rules.quotas.map((q) => [q.line, q.limit, [...q.literal]])).toEqual([
      [6, 50 * 1024 ** 3, ['team']],
    ]);
    expect(
      rules.retention.map((r) => [r.line, r.keepLatest, r.keepNewerThanMs, r.keepPulledWithinMs]),
    ).toEqual([
      [9, 10, 720 * 3600_000, undefined],
      [13, undefined, undefined, 720 * 3600_000],
    ]);
    expect(
      rules.retention[0].keepTags.map((re) => ['main', 'v1.2', 'dev'].filter((t) => re.test(t))),
    ).toEqual([['main'], ['v1.2']]);
  });

  it('matches repositories and tags with the access policy globs', () => {
    const rules = parseRules(EXAMPLE, FILE);
    expect(rules.immutableRule('release/app', 'v1.0')?.line).toBe(3);
    expect(rules.immutableRule('release/a/b/c', 'v2')?.line).toBe(3);
    expect(rules.immutableRule('release/app', 'latest')).toBeUndefined();
    expect(rules.immutableRule('release', 'v1')).toBeUndefined();
    expect(rules.immutableRule('team/release', 'v1')).toBeUndefined();
    const one = parseRules(`immutable:\n  - repositories: ['a/*']\n    tags: ['*-rc*']\n`, FILE);
    expect(one.immutableRule('a/b', '1.0-rc1')).toBeDefined();
    expect(one.immutableRule('a/b/c', '1.0-rc1')).toBeUndefined();
    expect(rules.retentionFor('ci/x/y').map((r) => r.line)).toEqual([9]);
    expect(rules.retentionFor('release/app')).toEqual([]);
  });

  it('gives a proxied namespace a quota only where a rule names it literally', () => {
    const rules = parseRules(
      `quotas:\n  - namespaces: ['t*']\n    limit: 1GiB\n  - namespaces: ['hub']\n    limit: 2GiB\n`,
      FILE,
    );
    expect(rules.quotaOf('team')?.limit).toBe(1024 ** 3);
    expect(rules.quotaOf('tools', true)).toBeUndefined();
    expect(rules.quotaOf('hub', true)?.limit).toBe(2 * 1024 ** 3);
    expect(rules.quotaOf('other')).toBeUndefined();
    expect(namespaceOf('team/app/x')).toBe('team');
    expect(namespaceOf('alone')).toBe('alone');
  });

  it.each(['', '\n\n', '# only a comment\n', '---\n'])('an empty file (%j) is no rules', (text) => {
    const rules = parseRules(text, FILE);
    expect(rules).toBe(NO_RULES);
    expect(rules.empty).toBe(true);
    expect(rules.immutableRule('release/app', 'v1')).toBeUndefined();
  });

  it('a file with empty sections is no rules either', () => {
    expect(parseRules('immutable: []\nquotas: []\nretention: []\n', FILE).empty).toBe(true);
  });

  it.each([
    ['0B', 0],
    ['1B', 1],
    ['2KiB', 2048],
    ['3MiB', 3 * 1024 ** 2],
    ['50GiB', 50 * 1024 ** 3],
    ['1TiB', 1024 ** 4],
    [' 7 MiB ', 7 * 1024 ** 2],
  ])('size %j is %d bytes', (text, bytes) => {
    expect(parseSize(text)).toBe(bytes);
  });

  it.each(['5GB', '5gib', '1.5GiB', '-1B', 'GiB', '10', '', '99999999TiB'])('size %j is refused', (text) => {
    expect(() => parseSize(text)).toThrow(/is not a size/);
  });

  it.each([
    ['500ms', 500],
    ['30s', 30_000],
    ['15m', 900_000],
    ['1h', 3600_000],
  ])('duration %j is %d ms', (text, ms) => {
    const rules = parseRules(`retention:\n  - repositories: ['ci/**']\n    keepNewerThan: ${text}\n`, FILE);
    expect(rules.retention[0].keepNewerThanMs).toBe(ms);
  });

  // Each case: the file, the line the error must name, and what the message must say.
  it.each<[string, string, number, RegExp]>([
    ['a YAML syntax error', `immutable:\n  - repositories: ['a/**'\n    tags: [v*]\n`, 3, /./],
    ['a duplicate key', `quotas: []\nquotas: []\n`, 2, /unique|duplicate/i],
    ['a list at the top', `- immutable\n`, 1, /expected a mapping/],
    ['an unknown section', `immutable: []\nretain:\n  - x: 1\n`, 2, /unknown key "retain"/],
    ['a section that is not a list', `quotas:\n  namespaces: [a]\n`, 2, /quotas? must be a list/],
    ['a rule that is not a mapping', `immutable:\n  - release/**\n`, 2, /is a mapping/],
    [
      'an unknown key in a rule',
      `immutable:\n  - repositories: ['a/**']\n    tag: ['v*']\n`,
      3,
      /unknown key "tag"/,
    ],
    ['a rule without tags', `immutable:\n  - repositories: ['a/**']\n`, 2, /needs tags/],
    ['an empty glob list', `immutable:\n  - repositories: []\n    tags: ['v*']\n`, 2, /non-empty list/],
    [
      'a glob that is not a list',
      `immutable:\n  - repositories: 'a/**'\n    tags: ['v*']\n`,
      2,
      /non-empty list/,
    ],
    [
      'an upper-case repository glob',
      `immutable:\n  - repositories:\n      - 'ok/**'\n      - 'Release/**'\n    tags: ['v*']\n`,
      4,
      /repositories must hold globs/,
    ],
    [
      'a tag glob with a slash',
      `immutable:\n  - repositories: ['a/**']\n    tags: ['v/*']\n`,
      3,
      /tags must hold globs/,
    ],
    [
      'a namespace glob with a slash',
      `quotas:\n  - namespaces: ['team/x']\n    limit: 1GiB\n`,
      2,
      /namespaces must hold/,
    ],
    ['a quota without a limit', `quotas:\n  - namespaces: ['team']\n`, 2, /needs limit/],
    [
      'a limit in decimal units',
      `quotas:\n  - namespaces: ['team']\n    limit: 5GB\n`,
      3,
      /limit: "5GB" is not a size/,
    ],
    [
      'a limit without a unit',
      `quotas:\n  - namespaces: ['team']\n    limit: 1024\n`,
      3,
      /limit: "1024" is not a size/,
    ],
    [
      'a limit that is a list',
      `quotas:\n  - namespaces: ['team']\n    limit: [1GiB]\n`,
      3,
      /limit must be a value/,
    ],
    ['a retention rule keeping nothing', `retention:\n  - repositories: ['ci/**']\n`, 2, /needs keepLatest/],
    [
      'a negative keepLatest',
      `retention:\n  - repositories: ['ci/**']\n    keepLatest: -1\n`,
      3,
      /whole number/,
    ],
    [
      'a fractional keepLatest',
      `retention:\n  - repositories: ['ci/**']\n    keepLatest: 2.5\n`,
      3,
      /whole number/,
    ],
    [
      'a keepLatest word',
      `retention:\n  - repositories: ['ci/**']\n    keepLatest: ten\n`,
      3,
      /whole number/,
    ],
    [
      'a duration in days',
      `retention:\n  - repositories: ['ci/**']\n    keepNewerThan: 30d\n`,
      3,
      /keepNewerThan: invalid duration/,
    ],
    [
      'a duration without a unit',
      `retention:\n  - repositories: ['ci/**']\n    keepPulledWithin: 60\n`,
      3,
      /keepPulledWithin: invalid duration/,
    ],
    [
      'a bad keepTags glob',
      `retention:\n  - repositories: ['ci/**']\n    keepLatest: 1\n    keepTags: ['ok', 'bad tag']\n`,
      4,
      /keepTags must hold globs/,
    ],
    [
      'a mistake in the second rule',
      `immutable:\n  - repositories: ['a/**']\n    tags: ['v*']\n  - repositories: ['b/**']\n    tags: ['v*']\n    extra: 1\n`,
      6,
      /unknown key "extra"/,
    ],
  ])('refuses %s, naming its line', (_what, text, line, says) => {
    const message = errorOf(text);
    expect({ line: lineOf(message), message }).toEqual({ line, message: expect.stringMatching(says) });
  });
});
