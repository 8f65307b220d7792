/**
 * The runbooks are executable documentation: these checks fail when a runbook
 * names a command, flag, metric, alarm, status, signal, dead-letter reason or
 * env var that Runlane does not have, when an alarm's runbook link points to
 * no heading, or when a procedure of the seeds is missing. Templates are
 * synthesized from cdk.json (every environment, asset bundling skipped).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { App } from 'aws-cdk-lib';
import { beforeAll, describe, expect, it } from 'vitest';
import { agentCommandPaths, checkAgentCommandLine } from '#agent/cli/command-line-check.js';
import { checkRunlaneCommandLine, runlaneCommandPaths } from '#cli/program.js';
import { STALL_ROOT_CAUSES, SUPERVISOR_STATUSES } from '#contracts/agent-events.js';
import { FAILURE_CODES, KEY_STATUS, RUN_STATUS, SIGNAL_TYPES } from '#contracts/lifecycle.js';
import { WORKER_PAYLOAD_TYPES, WORKER_STATUSES, WORKER_TASK_STATUSES } from '#contracts/worker-contract.js';
import { RUNNER_EVENT_REJECT_REASONS } from '#core/runner/event-ingest.js';
import { WORKER_INGEST_REJECT_REASONS } from '#core/workers/ingest.js';
import { parseRunlaneConfig } from '#lib/config/environment-config.js';
import {
  AGENTIC_WORKER_RUNBOOK,
  ALARM_CATALOG,
  headingAnchor,
  RUNNER_WATCHDOG_RUNBOOK,
  SUPERVISOR_RUNBOOK,
  WORKER_OPERATIONS_RUNBOOK,
} from '#lib/observability/alarm-catalog.js';
import { createRunlaneStacks } from '#lib/runlane-app.js';
import {
  allShellCommands,
  cliInvocations,
  nameMatcher,
  type Runbook,
  readRunbook,
  shellCommands,
} from '../support/runbook-markdown.js';

const ROOT = resolve(import.meta.dirname, '../..');
const RUNBOOK_DIR = join(ROOT, 'runbooks');

/** Where the names a runbook may use are defined (tests and the runbooks themselves excluded). */
const SOURCE_ROOTS = [
  'contracts',
  'functions',
  'lib',
  'cli',
  'common',
  'agent',
  'bin',
  'local',
  'config',
  'bench',
];
const SOURCE_FILES = ['cdk.json', 'package.json'];
const SKIPPED_DIRS = new Set(['node_modules', '.git', 'cdk.out', 'results', 'evidence', '.runlane']);

/**
 * Programs and their words a runbook uses that are not Runlane's names (a code
 * span such as `jq` or `journalctl` names a tool, not something of ours).
 */
const EXTERNAL_NAMES = new Set([
  'aws',
  'cdk',
  'curl',
  'grep',
  'jq',
  'journalctl',
  'kill',
  'ls',
  'npm',
  'npx',
  'pgrep',
  'ps',
  'systemctl',
  'watch',
]);

/** The procedures of the four seeds, by the runbook that rewrites them (case-insensitive heading match). */
const REQUIRED_HEADINGS: Record<string, readonly string[]> = {
  [SUPERVISOR_RUNBOOK]: [
    'P1-001: Supervisor Process Crash',
    'P1-002: Child Task Crash Loop',
    'P1-003: Dashboard IPC Disconnected',
    'P1-004: Runtime Starvation',
  ],
  [RUNNER_WATCHDOG_RUNBOOK]: [
    'Incident Response Checklist',
    'Alarm check',
    'Scoping',
    'Root cause analysis',
    'Emergency',
    'Monitoring',
    'Root Cause Categories',
    'Post-Incident Actions',
    'Escalation Matrix',
  ],
  [AGENTIC_WORKER_RUNBOOK]: [
    'Queue Retry And Dead-Letter Workflow',
    'Replay Drill',
    'Trace Correlation Procedure',
    'Common Failure Modes',
    'Evidence Checklist For Release Gates',
  ],
  [WORKER_OPERATIONS_RUNBOOK]: [
    'Feature Flags',
    'Worker Startup',
    'Delegated Execution Flow',
    'Offline Mode',
    'Observability',
    'Troubleshooting',
    'Queue not draining',
    'Tasks stuck in executing',
    'Replay not clearing',
    'Completion Checklist',
  ],
};

/** The vocabulary each runbook must cover, from the code that defines it. */
const REQUIRED_VOCABULARY: Record<string, Record<string, readonly string[]>> = {
  [AGENTIC_WORKER_RUNBOOK]: {
    'dead-letter reasons (FAILURE_CODES)': Object.values(FAILURE_CODES),
    'run statuses (RUN_STATUS)': Object.values(RUN_STATUS),
    'idempotency key statuses (KEY_STATUS)': Object.values(KEY_STATUS),
  },
  [RUNNER_WATCHDOG_RUNBOOK]: {
    'root causes (STALL_ROOT_CAUSES)': STALL_ROOT_CAUSES,
    'runner event dead-letter reasons (RUNNER_EVENT_REJECT_REASONS)':
      Object.values(RUNNER_EVENT_REJECT_REASONS),
    'runtime override env vars': ['RUNNER_IDLE_MS', 'RUNNER_HARD_MS'],
  },
  [SUPERVISOR_RUNBOOK]: {
    'supervisor health statuses (SUPERVISOR_STATUSES)': SUPERVISOR_STATUSES,
  },
  [WORKER_OPERATIONS_RUNBOOK]: {
    'worker ingest dead-letter reasons (WORKER_INGEST_REJECT_REASONS)': WORKER_INGEST_REJECT_REASONS,
    'worker statuses (WORKER_STATUSES)': WORKER_STATUSES,
    'task statuses (WORKER_TASK_STATUSES)': WORKER_TASK_STATUSES,
    'payload types (WORKER_PAYLOAD_TYPES)': WORKER_PAYLOAD_TYPES,
    'feature flags': ['WORKER_DELEGATION_ENABLED', 'WORKER_DEFAULT_ID', 'WORKER_SITE_NAME'],
  },
};

const STEP_TABLE_HEADER = ['Step', 'Action', 'Expected', 'Duration'];

function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    if (SKIPPED_DIRS.has(name)) return [];
    const path = join(dir, name);
    return statSync(path).isDirectory() ? listFiles(path) : [path];
  });
}

function readRunbooks(): Runbook[] {
  return readdirSync(RUNBOOK_DIR)
    .filter((name) => name.endsWith('.md'))
    .sort()
    .map((name) => readRunbook(`runbooks/${name}`, readFileSync(join(RUNBOOK_DIR, name), 'utf8')));
}

/**
 * Every field path of cdk.json's validated configuration (defaults filled in), per environment
 * (`alarms.criticalEmails`) and in full (`environments.prod.alarms.criticalEmails`): a runbook
 * names configuration by its path.
 */
function configFieldPaths(): string[] {
  const cdk = JSON.parse(readFileSync(join(ROOT, 'cdk.json'), 'utf8')) as { context: { runlane: unknown } };
  const flatten = (value: unknown, prefix: string): string[] =>
    value !== null && typeof value === 'object' && !Array.isArray(value)
      ? Object.entries(value).flatMap(([key, child]) => [
          `${prefix}${key}`,
          ...flatten(child, `${prefix}${key}.`),
        ])
      : [];
  const config = parseRunlaneConfig(cdk.context.runlane);
  return [
    ...flatten(config, ''),
    ...Object.values(config.environments).flatMap((environment) => flatten(environment, '')),
  ];
}

function synthesizedTemplates(): Record<string, unknown>[] {
  const cdk = JSON.parse(readFileSync(join(ROOT, 'cdk.json'), 'utf8')) as {
    context: Record<string, unknown>;
  };
  const app = new App({ context: { ...cdk.context, 'aws:cdk:bundling-stacks': [] } });
  createRunlaneStacks(app);
  return app.synth().stacks.map((stack) => stack.template as Record<string, unknown>);
}

interface AlarmResource {
  readonly name: string;
  readonly description: string;
}

function alarmsOf(templates: readonly Record<string, unknown>[]): AlarmResource[] {
  return templates.flatMap((template) =>
    Object.values(
      (template.Resources ?? {}) as Record<string, { Type: string; Properties?: Record<string, unknown> }>,
    )
      .filter((resource) => resource.Type === 'AWS::CloudWatch::Alarm')
      .map((resource) => ({
        name: String(resource.Properties?.AlarmName),
        description: String(resource.Properties?.AlarmDescription),
      })),
  );
}

/** A section's text with the text of the sections nested under it. */
function sectionWithSubsections(runbook: Runbook, heading: string): string {
  const index = runbook.headings.findIndex((candidate) => candidate.text === heading);
  if (index < 0) return '';
  const depth = runbook.headings[index]?.depth ?? 0;
  let text = '';
  for (const candidate of runbook.headings.slice(index)) {
    if (candidate !== runbook.headings[index] && candidate.depth <= depth) break;
    text += `${runbook.sections.get(candidate.text) ?? ''}\n`;
  }
  return text;
}

/** Single-token code spans: the names a runbook claims exist. Numbers and durations are values, not names. */
function namedTokens(runbook: Runbook): { value: string; section: string }[] {
  return runbook.codeSpans.filter(
    ({ value }) =>
      !/\s/.test(value) &&
      value !== '' &&
      !/^[\d.,:%<>=≤≥+~-]+[a-zA-Z]{0,3}$/.test(value) &&
      !/^https?:\/\//.test(value) &&
      !EXTERNAL_NAMES.has(value),
  );
}

/** Resource names (`runlane-…`, not the `runlane-agent` program) used as words of any command. */
function resourceWords(runbook: Runbook): { value: string; section: string }[] {
  return allShellCommands(runbook).flatMap(({ value: words, section }) =>
    words
      .flatMap((word) => word.split(/[=,]/))
      .filter((word) => /^runlane-/.test(word) && word !== 'runlane-agent')
      .map((value) => ({ value, section })),
  );
}

/** Each CLI's own checks, from its program definition: a command line, and its command paths. */
const CLIS = {
  runlane: { check: checkRunlaneCommandLine, paths: runlaneCommandPaths },
  'runlane-agent': { check: checkAgentCommandLine, paths: agentCommandPaths },
} as const;

/** Whether the words are subcommand names all the way down (`dlq show`), naming a command of the tree. */
function isCommandPath(cli: keyof typeof CLIS, words: readonly string[]): boolean {
  const joined = words.join(' ');
  return CLIS[cli].paths().some((path) => path.join(' ') === joined);
}

/** Why each runlane / runlane-agent invocation of a runbook does not parse. */
function commandLineProblems(runbook: Runbook): string[] {
  return cliInvocations(runbook).flatMap(({ value: invocation, section }) => {
    // Prose may name a command without running it (`runlane dlq show`): the path must exist.
    if (invocation.inline && isCommandPath(invocation.cli, invocation.argv)) return [];
    try {
      CLIS[invocation.cli].check(invocation.argv);
      return [];
    } catch (error) {
      return [`${runbook.file} § ${section}: \`${invocation.source}\`: ${(error as Error).message}`];
    }
  });
}

function missingNames(runbook: Runbook, corpus: string): string[] {
  const seen = new Set<string>();
  return [...namedTokens(runbook), ...resourceWords(runbook)].flatMap(({ value, section }) => {
    if (seen.has(value)) return [];
    seen.add(value);
    return nameMatcher(value).test(corpus)
      ? []
      : [`${runbook.file} § ${section}: \`${value}\` is not in the source or the synthesized templates`];
  });
}

function brokenLinks(runbook: Runbook, all: readonly Runbook[]): string[] {
  return runbook.links.flatMap(({ value: href, section }) => {
    if (/^[a-z]+:/i.test(href)) return [];
    const [path = '', anchor] = href.split('#');
    const target = path === '' ? join(ROOT, runbook.file) : resolve(dirname(join(ROOT, runbook.file)), path);
    const known = all.find((candidate) => join(ROOT, candidate.file) === target);
    if (!known && !existsSync(target)) {
      return [`${runbook.file} § ${section}: link ${href}: no file ${relative(ROOT, target)}`];
    }
    if (anchor === undefined || anchor === '') return [];
    const targetRunbook = known ?? readRunbook(relative(ROOT, target), readFileSync(target, 'utf8'));
    return targetRunbook.headings.some((heading) => heading.anchor === anchor)
      ? []
      : [
          `${runbook.file} § ${section}: link ${href}: no heading with anchor #${anchor} in ${targetRunbook.file}`,
        ];
  });
}

function stepTableProblems(runbook: Runbook): string[] {
  return runbook.tables.flatMap(({ value: table, section }) => {
    if (table.header[0] !== 'Step') return [];
    if (table.header.join('|') !== STEP_TABLE_HEADER.join('|')) {
      return [`${runbook.file} § ${section}: step table header is ${table.header.join(' | ')}`];
    }
    return table.rows.flatMap((row, index) => {
      const [step, action, expected, duration] = row;
      const problems: string[] = [];
      if (!action) problems.push('no action');
      if (!expected) problems.push('no expected value');
      if (!/\d+(\.\d+)?\s*(s|sec|min|h)\b/.test(duration ?? ''))
        problems.push(`duration "${duration ?? ''}"`);
      return problems.length === 0
        ? []
        : [`${runbook.file} § ${section}: step ${step ?? index + 1}: ${problems.join(', ')}`];
    });
  });
}

/** A procedure (a `##` section with a step table, its subsections included) without escalation or total. */
function procedureProblems(runbook: Runbook): string[] {
  return runbook.headings
    .filter((heading) => heading.depth === 2)
    .flatMap((heading) => {
      const text = sectionWithSubsections(runbook, heading.text);
      if (!/^\|\s*Step\s*\|/m.test(text)) return [];
      return [
        ...(/escalat/i.test(text) ? [] : [`${runbook.file} § ${heading.text}: no escalation`]),
        ...(/\bTotal\b[^\n]*\d+\s*min/i.test(text)
          ? []
          : [`${runbook.file} § ${heading.text}: no total duration`]),
      ];
    });
}

describe('runbook checks catch what they are for', () => {
  const bad = readRunbook(
    'runbooks/bad.md',
    [
      '# Bad',
      '## Steps',
      '| Step | Action | Expected | Duration |',
      '|---|---|---|---|',
      '| 1 | `npx runlane workers bogus --env <env>` | exit 0 | soon |',
      '| 2 | `runlane-agent ctl health --no-such-flag` | `RunnerStallFastBurnTypo` | 1 min |',
      '',
      'See [the missing one](#no-such-heading) and [a missing file](no-such-runbook.md).',
      '```sh',
      'npx runlane dlq list --lane <lane> --json | jq .',
      'npx runlane trace',
      'aws sqs get-queue-url --queue-name runlane-<env>-no-such-lane-dlq',
      '```',
    ].join('\n'),
  );

  it('rejects an unknown subcommand, an unknown flag and a missing argument, and accepts a good line in a pipeline', () => {
    const problems = commandLineProblems(bad);
    expect(problems).toHaveLength(3);
    expect(problems[0]).toContain('bogus');
    expect(problems[1]).toContain('no-such-flag');
    // A shell block runs what it says: `runlane trace` without its id is a command line that fails.
    expect(problems[2]).toContain("trace: missing required argument 'id'");
    expect(cliInvocations(bad).map(({ value }) => value.argv.join(' '))).toContain(
      'dlq list --lane <lane> --json',
    );
  });

  it('rejects a name the code does not define, and a resource name no template has', () => {
    const corpus = 'runlane-prod-RunnerStallFastBurn runlane-prod-runtime-ingestion-completed-dlq';
    expect(missingNames(bad, corpus)).toEqual([
      'runbooks/bad.md § Steps: `RunnerStallFastBurnTypo` is not in the source or the synthesized templates',
      'runbooks/bad.md § Steps: `runlane-<env>-no-such-lane-dlq` is not in the source or the synthesized templates',
    ]);
  });

  it('rejects a broken link, a step without a duration and a procedure without escalation or total', () => {
    expect(brokenLinks(bad, [bad])).toEqual([
      'runbooks/bad.md § Steps: link #no-such-heading: no heading with anchor #no-such-heading in runbooks/bad.md',
      'runbooks/bad.md § Steps: link no-such-runbook.md: no file runbooks/no-such-runbook.md',
    ]);
    expect(stepTableProblems(bad)).toEqual(['runbooks/bad.md § Steps: step 1: duration "soon"']);
    expect(procedureProblems(bad)).toEqual([
      'runbooks/bad.md § Steps: no escalation',
      'runbooks/bad.md § Steps: no total duration',
    ]);
  });

  it('splits shell lines into commands without reading <placeholders> as redirections', () => {
    expect(shellCommands('RUNNER_IDLE_MS=14400 runlane-agent run -- <command> 2>&1 | grep -c x')).toEqual([
      ['RUNNER_IDLE_MS=14400', 'runlane-agent', 'run', '--', '<command>'],
      ['grep', '-c', 'x'],
    ]);
    expect(
      nameMatcher('runlane-<env>-<lane>-dlq-messages').test('"runlane-prod-runtime-x-dlq-messages"'),
    ).toBe(true);
    expect(nameMatcher('Completed').test('NotCompletedYet')).toBe(false);
  });
});

describe('runbooks/', () => {
  let runbooks: Runbook[];
  let templates: Record<string, unknown>[];
  let corpus: string;

  beforeAll(() => {
    runbooks = readRunbooks();
    templates = synthesizedTemplates();
    const sources = [
      ...SOURCE_ROOTS.flatMap((root) => listFiles(join(ROOT, root))),
      ...SOURCE_FILES.map((file) => join(ROOT, file)),
      // Code and configuration only: documentation does not make a name exist.
    ].filter((file) => /\.(ts|mts|mjs|js|json|sh)$/.test(file));
    const paths = listFiles(ROOT).map((file) => relative(ROOT, file));
    corpus = [
      ...sources.map((file) => readFileSync(file, 'utf8')),
      configFieldPaths().join('\n'),
      ...templates.map((template) => JSON.stringify(template)),
      paths.join('\n'),
    ].join('\n');
  }, 120_000);

  const runbook = (file: string): Runbook => {
    const found = runbooks.find((candidate) => candidate.file === file);
    if (!found) throw new Error(`${file} is missing`);
    return found;
  };

  it('has a runbook for each seed, each with the seed’s procedures', () => {
    const missing = Object.entries(REQUIRED_HEADINGS).flatMap(([file, required]) => {
      const headings = runbook(file).headings.map((heading) => heading.text.toLowerCase());
      return required
        .filter((wanted) => !headings.some((heading) => heading.includes(wanted.toLowerCase())))
        .map((wanted) => `${file}: no heading "${wanted}"`);
    });
    expect(missing).toEqual([]);
  });

  it('every alarm kind’s runbook section exists verbatim, names the alarm and has a step table', () => {
    const problems = Object.entries(ALARM_CATALOG).flatMap(([kind, entry]) => {
      const book = runbook(entry.runbook.file);
      if (!book.headings.some((heading) => heading.text === entry.runbook.heading)) {
        return [`${kind}: no heading "${entry.runbook.heading}" in ${entry.runbook.file}`];
      }
      const text = sectionWithSubsections(book, entry.runbook.heading);
      const problems: string[] = [];
      if (!text.includes(entry.slug))
        problems.push(`${kind}: § ${entry.runbook.heading} does not name ${entry.slug}`);
      if (!/^\|\s*Step\s*\|\s*Action\s*\|/m.test(text)) {
        problems.push(`${kind}: § ${entry.runbook.heading} has no step table`);
      }
      return problems;
    });
    expect(problems).toEqual([]);
  });

  it('every synthesized alarm’s description links to a heading that exists, and a runbook names the alarm', () => {
    const alarms = alarmsOf(templates);
    expect(alarms.length).toBeGreaterThan(60);
    const namePatterns = runbooks.flatMap((book) =>
      [...namedTokens(book), ...resourceWords(book)].map(({ value }) => nameMatcher(value)),
    );
    const problems = alarms.flatMap((alarm) => {
      const link = /Runbook: (runbooks\/[\w.-]+\.md)#([\w-]+)/.exec(alarm.description);
      if (!link) return [`${alarm.name}: no runbook link in "${alarm.description}"`];
      const [, file = '', anchor = ''] = link;
      const book = runbooks.find((candidate) => candidate.file === file);
      const problems: string[] = [];
      if (!book?.headings.some((heading) => heading.anchor === anchor)) {
        problems.push(`${alarm.name}: ${file}#${anchor} is no heading`);
      }
      if (!namePatterns.some((pattern) => pattern.test(`"${alarm.name}"`))) {
        problems.push(`${alarm.name}: no runbook names it (e.g. as \`runlane-<env>-…\`)`);
      }
      return problems;
    });
    expect(problems).toEqual([]);
  });

  it('every runlane / runlane-agent command line parses against the real CLI', () => {
    for (const book of runbooks) {
      expect(cliInvocations(book).length, `${book.file} has runlane commands`).toBeGreaterThan(2);
    }
    expect(runbooks.flatMap(commandLineProblems)).toEqual([]);
  });

  it('every metric, alarm, status, signal, reason, env var and resource a runbook names exists', () => {
    expect(runbooks.flatMap((book) => missingNames(book, corpus))).toEqual([]);
  });

  it('covers the vocabulary the code defines: dead-letter reasons, statuses, signals, root causes, flags', () => {
    const mentions = (text: string, word: string): boolean => nameMatcher(word).test(text);
    const missing = Object.entries(REQUIRED_VOCABULARY).flatMap(([file, groups]) => {
      const text = readFileSync(join(ROOT, file), 'utf8');
      return Object.entries(groups).flatMap(([group, words]) =>
        words.filter((word) => !mentions(text, word)).map((word) => `${file}: ${group}: ${word}`),
      );
    });
    const allText = runbooks.map((book) => readFileSync(join(ROOT, book.file), 'utf8')).join('\n');
    const signals = Object.values(SIGNAL_TYPES)
      .filter((signal) => !mentions(allText, signal))
      .map((signal) => `no runbook: signal ${signal}`);
    expect([...missing, ...signals]).toEqual([]);
  });

  it('cdk commands name configured environments', () => {
    const environments = Object.keys(
      (
        JSON.parse(readFileSync(join(ROOT, 'cdk.json'), 'utf8')) as {
          context: { runlane: { environments: object } };
        }
      ).context.runlane.environments,
    );
    const problems = runbooks.flatMap((book) =>
      allShellCommands(book)
        .filter(({ value: words }) => words.includes('cdk'))
        .flatMap(({ value: words, section }) =>
          words
            .filter((word) => word.startsWith('env='))
            .map((word) => word.slice('env='.length))
            .filter((env) => !env.startsWith('<') && !environments.includes(env))
            .map((env) => `${book.file} § ${section}: cdk -c env=${env} is not an environment of cdk.json`),
        ),
    );
    expect(problems).toEqual([]);
  });

  it('every relative link resolves to a file and heading', () => {
    expect(runbooks.flatMap((book) => brokenLinks(book, runbooks))).toEqual([]);
  });

  it('every step has an action, an expected value and a duration', () => {
    for (const book of runbooks.filter((candidate) => candidate.file !== 'runbooks/README.md')) {
      expect(
        book.tables.filter(({ value }) => value.header[0] === 'Step').length,
        `${book.file} has step tables`,
      ).toBeGreaterThan(0);
    }
    expect(runbooks.flatMap(stepTableProblems)).toEqual([]);
  });

  it('every procedure (a ## section with a step table) has an escalation path and a total duration', () => {
    expect(runbooks.flatMap(procedureProblems)).toEqual([]);
  });

  it('anchors are GitHub’s', () => {
    expect(headingAnchor('P1-003: Dashboard IPC Disconnected')).toBe('p1-003-dashboard-ipc-disconnected');
    expect(headingAnchor('Replay Drill (After Fix)')).toBe('replay-drill-after-fix');
  });
});
