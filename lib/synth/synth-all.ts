/**
 * `npm run synth`: synthesizes every Runlane environment with the local CDK CLI
 * (offline, no credentials, no prompts), fails on any synth error or cdk-nag
 * finding, then prints a summary per environment.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ENVIRONMENT_NAMES } from '../config/environment-config.js';
import { stackNameFor } from '../runlane-app.js';
import {
  formatSummary,
  listStacks,
  type NagFinding,
  readNagFindings,
  type StackSummary,
  summarizeTemplate,
} from './synth-summary.js';

const USAGE = `Usage: npm run synth -- [--json] [--output <dir>] [--help]

Synthesizes Runlane-dev, Runlane-staging and Runlane-prod with the local CDK CLI
(cdk synth --quiet; offline, no AWS credentials needed), with the cdk-nag packs
AwsSolutions, Serverless and Runlane. Exits 1 if synthesis fails or any
unacknowledged cdk-nag finding (error or warning) is reported; otherwise prints,
per environment: lanes (queue, DLQ, maxReceiveCount, batch size, visibility
timeout, function timeout), tables and their GSIs, alarm count, state machines and API routes.

Options:
  --json            print the result as JSON on stdout (logs go to stderr)
  --output <dir>    cloud assembly directory (default: cdk.out)
  --help            show this help`;

interface Options {
  readonly json: boolean;
  readonly output: string;
}

interface Result {
  readonly ok: boolean;
  readonly output: string;
  readonly durationMs: number;
  readonly error?: string;
  readonly nagFindings: readonly NagFinding[];
  readonly environments: readonly StackSummary[];
}

const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

function parseArgs(argv: readonly string[]): Options | 'help' {
  let json = false;
  let output = 'cdk.out';
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (arg === '--help' || arg === '-h') return 'help';
    if (arg === '--json') json = true;
    else if (arg === '--output' || arg === '-o') {
      const value = argv[i + 1];
      if (!value) throw new Error(`${arg} needs a directory`);
      output = value;
      i += 1;
    } else throw new Error(`Unknown argument: ${arg}`);
  }
  return { json, output };
}

function runCdkSynth(output: string, log: (line: string) => void): { ok: boolean; error?: string } {
  const cdkCli = join(dirname(createRequire(import.meta.url).resolve('aws-cdk/package.json')), 'bin', 'cdk');
  const binDir = join(projectRoot, 'node_modules', '.bin');
  const result = spawnSync(
    process.execPath,
    [cdkCli, 'synth', '--quiet', '--no-notices', '--ci', '--output', output],
    {
      cwd: projectRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
      env: {
        ...process.env,
        // The pinned Node (node_modules/.bin/node) runs the app, whatever the caller's PATH.
        PATH: [binDir, dirname(process.execPath), process.env.PATH ?? ''].join(delimiter),
        CI: 'true',
        AWS_EC2_METADATA_DISABLED: 'true',
        CDK_DISABLE_VERSION_CHECK: 'true',
        CDK_DISABLE_CLI_TELEMETRY: 'true',
      },
    },
  );
  const transcript = `${result.stdout ?? ''}${result.stderr ?? ''}`
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.startsWith('npm warn'));
  if (result.error) return { ok: false, error: `could not run the CDK CLI: ${result.error.message}` };
  if (result.status !== 0) {
    for (const line of transcript) log(line);
    return { ok: false, error: `cdk synth exited with ${result.status ?? result.signal}` };
  }
  return { ok: true };
}

function synthAll(options: Options, log: (line: string) => void): Result {
  const started = Date.now();
  const output = resolve(projectRoot, options.output);
  // Start from an empty assembly: no stale assets, and no report from an earlier run read as this run's.
  if (existsSync(output)) {
    if (readdirSync(output).length > 0 && !existsSync(join(output, 'manifest.json'))) {
      return {
        ok: false,
        output,
        durationMs: 0,
        error: `${output} is not a cloud assembly (no manifest.json); refusing to clear it`,
        nagFindings: [],
        environments: [],
      };
    }
    rmSync(output, { recursive: true, force: true });
  }

  const synth = runCdkSynth(output, log);
  const nagFindings = existsSync(output) ? readNagFindings(output) : [];
  const base = { output, nagFindings, durationMs: 0 };
  if (!synth.ok)
    return { ...base, ok: false, error: synth.error, environments: [], durationMs: Date.now() - started };

  const stacks = listStacks(output);
  const environments: StackSummary[] = [];
  const missing: string[] = [];
  for (const name of ENVIRONMENT_NAMES) {
    const stack = stacks.find((candidate) => candidate.stackName === stackNameFor(name));
    if (!stack) {
      missing.push(stackNameFor(name));
      continue;
    }
    const template = JSON.parse(readFileSync(stack.templateFile, 'utf8'));
    environments.push(summarizeTemplate(stack.stackName, template, stack.region));
  }
  const problems = [
    ...(missing.length > 0 ? [`stacks missing from the assembly: ${missing.join(', ')}`] : []),
    ...(nagFindings.length > 0 ? [`${nagFindings.length} unacknowledged cdk-nag finding(s)`] : []),
  ];
  return {
    ...base,
    ok: problems.length === 0,
    ...(problems.length > 0 ? { error: problems.join('; ') } : {}),
    environments,
    durationMs: Date.now() - started,
  };
}

/** Runs `npm run synth` with these arguments; returns the exit code. */
export function synthAllMain(argv: readonly string[]): number {
  let options: Options | 'help';
  try {
    options = parseArgs(argv);
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (options === 'help') {
    console.log(USAGE);
    return 0;
  }
  const log = (line: string) => console.error(line);
  const result = synthAll(options, log);

  if (options.json) {
    console.log(JSON.stringify(result, null, 2));
  } else {
    for (const finding of result.nagFindings) {
      console.error(
        `${finding.severity.toUpperCase()} ${finding.rule} (${finding.plugin})\n  ${finding.constructPaths.join('\n  ')}`,
      );
    }
    if (result.ok) {
      for (const summary of result.environments) console.log(`${formatSummary(summary)}\n`);
      console.log(
        `Synthesized ${result.environments.length} environments into ${result.output} in ${(result.durationMs / 1000).toFixed(1)} s; cdk-nag: 0 unacknowledged findings.`,
      );
    }
  }
  if (!result.ok) console.error(`synth failed: ${result.error}`);
  return result.ok ? 0 : 1;
}
