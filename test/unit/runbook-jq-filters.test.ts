/**
 * Every `jq` filter of the runbooks and the README compiles: each is run by jq itself on null
 * input, where a syntax error exits 3 (a runtime error on null, exit 5, is expected and fine).
 * Filters inside `$(…)` are found too. Skipped, saying so, where no `jq` is installed.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { installedToolVersion, readCommandDocuments, shellCommands } from '../support/runbook-markdown.js';

const run = promisify(execFile);

const JQ_VERSION = installedToolVersion('jq');
const JQ_COMPILE_ERROR = 3;

/** jq options that take one or two values, which are not the filter. */
const OPTION_VALUES: Record<string, number> = {
  '--arg': 2,
  '--argjson': 2,
  '--slurpfile': 2,
  '--rawfile': 2,
  '--indent': 1,
};

interface JqFilter {
  readonly filter: string;
  /** `--arg`/`--argjson` names the filter may use. */
  readonly variables: readonly string[];
  readonly where: string;
}

/** The filter and variables of a `jq …` command's words, if it has a filter. */
function jqFilter(words: readonly string[], where: string): JqFilter | undefined {
  const variables: string[] = [];
  for (let index = 1; index < words.length; index += 1) {
    const word = words[index] ?? '';
    const takes = OPTION_VALUES[word];
    if (takes !== undefined) {
      if (word === '--arg' || word === '--argjson') variables.push(words[index + 1] ?? '');
      index += takes;
      continue;
    }
    if (word.startsWith('-') && word !== '-') continue;
    return { filter: word, variables, where };
  }
  return undefined;
}

/** Shell lines and the `$(…)` substitutions inside them (not nested). */
function withSubstitutions(line: string): string[] {
  return [line, ...[...line.matchAll(/\$\(([^()]*)\)/g)].map((match) => match[1] ?? '')];
}

function documentFilters(): JqFilter[] {
  const seen = new Set<string>();
  return readCommandDocuments().flatMap((book) => {
    return [...book.codeSpans, ...book.shellLines].flatMap(({ value, section }) =>
      withSubstitutions(value)
        .flatMap((line) => shellCommands(line))
        .filter((words) => words[0] === 'jq')
        .map((words) => jqFilter(words, `${book.file} § ${section}: \`${words.join(' ')}\``))
        .filter((found): found is JqFilter => {
          if (found === undefined || seen.has(found.filter)) return false;
          seen.add(found.filter);
          return true;
        }),
    );
  });
}

async function compileProblem(filter: JqFilter): Promise<string | undefined> {
  const args = ['-n', ...filter.variables.flatMap((name) => ['--arg', name, '']), filter.filter];
  try {
    await run('jq', args, { timeout: 10_000 });
    return undefined;
  } catch (error) {
    const failed = error as { code?: number; stderr?: string };
    if (failed.code !== JQ_COMPILE_ERROR) return undefined;
    return `${filter.where}: ${(failed.stderr ?? '').split('\n')[0]}`;
  }
}

describe.skipIf(JQ_VERSION === undefined)(
  `runbook jq filters (${JQ_VERSION ?? 'no jq installed: skipped'})`,
  () => {
    it('the check refuses a filter that does not compile and passes one that only fails on null input', async () => {
      expect(await compileProblem({ filter: '.Messages[] | [.a', variables: [], where: 'bad' })).toMatch(
        /^bad: jq: error: syntax error/,
      );
      expect(
        await compileProblem({ filter: '.Messages[] | .Body | fromjson', variables: [], where: 'ok' }),
      ).toBe(undefined);
      expect(jqFilter(['jq', '-r', '--arg', 'lane', 'x', '.[] | select(.lane == $lane)'], 'w')).toEqual({
        filter: '.[] | select(.lane == $lane)',
        variables: ['lane'],
        where: 'w',
      });
    });

    it('every jq filter in the runbooks and the README compiles', async () => {
      const filters = documentFilters();
      expect(filters.length).toBeGreaterThan(10);
      const problems = (await Promise.all(filters.map(compileProblem))).filter(
        (problem): problem is string => problem !== undefined,
      );
      expect(problems).toEqual([]);
    });
  },
);
