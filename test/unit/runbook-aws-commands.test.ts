/**
 * Every `aws …` command of the runbooks and the README is checked by the AWS CLI itself: service, operation,
 * parameters, required parameters, parameter shapes (JSON, shorthand) and `--query` syntax. It
 * runs against a closed port on 127.0.0.1 with dummy credentials, so a command that parses gets
 * as far as "Could not connect to the endpoint URL" and nothing leaves the machine. Skipped,
 * saying so, where no `aws` is installed.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { installedToolVersion, readCommandDocuments, shellCommands } from '../support/runbook-markdown.js';

const run = promisify(execFile);

const AWS_VERSION = installedToolVersion('aws');

/** A closed local port: the CLI parses, validates, then fails to connect. */
const NO_ENDPOINT = 'http://127.0.0.1:9';
const CALL_ATTEMPTED = /Could not connect to the endpoint URL/;

const AWS_ENV = {
  PATH: process.env.PATH ?? '',
  HOME: process.env.HOME ?? '/tmp',
  AWS_ACCESS_KEY_ID: 'runbook-check',
  AWS_SECRET_ACCESS_KEY: 'runbook-check',
  AWS_CONFIG_FILE: '/dev/null',
  AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
  AWS_MAX_ATTEMPTS: '1',
  AWS_RETRY_MODE: 'standard',
  AWS_PAGER: '',
  AWS_EC2_METADATA_DISABLED: 'true',
};

interface AwsCommand {
  readonly words: readonly string[];
  readonly file: string;
  readonly section: string;
  /** A prose mention (`aws events put-events`) names an operation; a shell line must run as written. */
  readonly inline: boolean;
}

function runbookAwsCommands(): AwsCommand[] {
  const seen = new Set<string>();
  return readCommandDocuments()
    .flatMap((book) => {
      const lines = [
        ...book.codeSpans.map((line) => ({ ...line, inline: true })),
        ...book.shellLines.map((line) => ({ ...line, inline: false })),
      ];
      return lines.flatMap(({ value, section, inline }) =>
        shellCommands(value)
          .filter((words) => words[0] === 'aws' && words.length >= 3)
          .filter((words) => !words.some((word) => word.includes('$(') || word === '…' || word === '...'))
          .map((words) => ({ words, file: book.file, section, inline })),
      );
    })
    .filter((command) => {
      const key = command.words.join(' ');
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
}

/** `<env>` → a real environment name; any other placeholder → `1` (valid as a string, number or id). */
function withValues(words: readonly string[]): string[] {
  return words.map((word) => word.replace(/<env>/g, 'dev').replace(/<[A-Za-z][\w.:-]*>/g, '1'));
}

async function awsProblem(command: AwsCommand): Promise<string | undefined> {
  const args = withValues(command.words.slice(1));
  const attempt = async (extra: string[]): Promise<string> => {
    try {
      const { stdout, stderr } = await run('aws', [...args, ...extra], { env: AWS_ENV, timeout: 30_000 });
      return `${stdout}${stderr}`;
    } catch (error) {
      const failed = error as { stdout?: string; stderr?: string; message: string };
      return `${failed.stdout ?? ''}${failed.stderr ?? failed.message}`;
    }
  };
  const hasRegion = args.includes('--region');
  const output = await attempt([
    '--endpoint-url',
    NO_ENDPOINT,
    ...(hasRegion ? [] : ['--region', 'us-east-1']),
  ]);
  if (CALL_ATTEMPTED.test(output)) return undefined;
  if (command.inline && command.words.length === 3) {
    // Prose naming an operation: it must exist (its input skeleton prints without a call).
    const skeleton = await attempt(['--generate-cli-skeleton']);
    if (skeleton.trimStart().startsWith('{')) return undefined;
  }
  const reason = output
    .split('\n')
    .filter((line) => /error|invalid|unknown|required|bad value|expecting/i.test(line))
    .slice(0, 2)
    .join(' ');
  return `${command.file} § ${command.section}: \`${command.words.join(' ')}\`: ${reason || output.slice(0, 300)}`;
}

async function problemsOf(commands: readonly AwsCommand[]): Promise<string[]> {
  const problems: string[] = [];
  // Four at a time: each is a Python start-up of about half a second.
  for (let index = 0; index < commands.length; index += 4) {
    const batch = await Promise.all(commands.slice(index, index + 4).map(awsProblem));
    problems.push(...batch.filter((problem): problem is string => problem !== undefined));
  }
  return problems;
}

describe.skipIf(AWS_VERSION === undefined)(
  `runbook aws commands (${AWS_VERSION ?? 'no aws CLI installed: skipped'})`,
  () => {
    it('the check refuses an unknown operation, a missing required parameter and a bad --query', async () => {
      const bad = (line: string): AwsCommand => ({
        words: line.split(' '),
        file: 'runbooks/bad.md',
        section: 'Bad',
        inline: false,
      });
      const problems = await problemsOf([
        bad('aws sqs get-queue-attribs --queue-url <url>'),
        bad('aws events put-events'),
        bad('aws cloudwatch describe-alarms --query MetricAlarms[.AlarmName'),
        bad('aws sqs get-queue-attributes --queue-url <url> --attribute-names All'),
      ]);
      expect(problems).toHaveLength(3);
      expect(problems[0]).toMatch(/Invalid choice/);
      expect(problems[1]).toMatch(/required: --entries/);
      expect(problems[2]).toMatch(/Bad value for --query/);
    }, 60_000);

    it('every aws command in the runbooks parses and validates with the AWS CLI', async () => {
      const commands = runbookAwsCommands();
      expect(commands.length).toBeGreaterThan(10);
      expect(await problemsOf(commands)).toEqual([]);
    }, 300_000);
  },
);
