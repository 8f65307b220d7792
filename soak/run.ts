/**
 * `npm run soak`: the chaos soak of issue 16 — ≥ N mixed commands through the local stack over
 * HTTP and producers while the whole stack is killed with SIGKILL and restarted, then every
 * accepted command checked for exactly one terminal state and at most one side effect.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, InvalidArgumentError, Option } from '@commander-js/extra-typings';
import { configureProgram, ExitCode, runProgram } from '#common/cli-program.js';
import { formatSummary } from './report.js';
import { runSoak, SoakAbortedError } from './soak.js';

const EXIT_PASSED = 0;
const EXIT_FAILED = 1;

function whole(min: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min) {
      throw new InvalidArgumentError(`Expected a whole number ≥ ${min}.`);
    }
    return n;
  };
}

const exit = new ExitCode();
const program = configureProgram(new Command('npm run soak --'), {
  stdout: process.stdout,
  stderr: process.stderr,
})
  .description(
    'Chaos soak: starts the local stack (node bin/runlane.mjs local) on a fresh data folder, sends mixed ' +
      'commands in parallel — API messages (emoji, Idempotency-Key retries racing each other), approval ' +
      'decisions, drill.flaky and drill.hang, ingestion over its error threshold, unsupported types, poison, ' +
      'duplicate deliveries 1–5× — kills the whole stack with SIGKILL at random moments and restarts it on ' +
      'the same folder, waits until everything settled, then checks every accepted command: exactly one ' +
      'terminal state, nothing lost or stuck, no side effect twice.',
  )
  .addOption(
    new Option('--commands <n>', 'commands to send (approval decisions come on top)')
      .default(10_000)
      .argParser(whole(1)),
  )
  .addOption(
    new Option('--kills <n>', 'SIGKILLs of the whole stack, at random moments')
      .default(3)
      .argParser(whole(0)),
  )
  .addOption(
    new Option('--seed <n>', 'seed of the mix and the kill moments (default: random, printed)').argParser(
      whole(0),
    ),
  )
  .addOption(
    new Option(
      '--dir <path>',
      'work folder: data/, stack-<n>.log, report.json (default: a new temporary folder)',
    ),
  )
  .addOption(new Option('--concurrency <n>', 'commands in flight at once').default(24).argParser(whole(1)))
  .addOption(
    new Option('--hangs <n>', 'drill.hang commands among them (default: 1 per 1000, 2 to 10)').argParser(
      whole(0),
    ),
  )
  .addOption(
    new Option(
      '--visibility-timeout <s>',
      "the stack's lane visibility timeout (default: the stack's)",
    ).argParser(whole(1)),
  )
  .addOption(
    new Option('--settle-timeout <s>', 'longest wait for the lanes to settle after the last send')
      .default(300)
      .argParser(whole(1)),
  )
  .addOption(new Option('--no-sweep', 'never run the anomaly sweep while settling'))
  .addOption(new Option('--json', 'print the report as JSON instead of the summary'))
  .addHelpText(
    'after',
    '\nExit codes: 0 passed (lost, stuck, duplicate effects, conflicting and missing effects all 0), ' +
      '1 failed, 2 usage error.\nExample: npm run soak -- --commands 1000 --kills 1 --seed 7',
  );

program.action(
  exit.of(async (options) => {
    const seed = options.seed ?? Math.floor(Math.random() * 2 ** 31);
    const progress = (line: string) => process.stderr.write(`${line}\n`);
    try {
      const report = await runSoak(
        {
          commands: options.commands,
          kills: options.kills,
          seed,
          dir: options.dir,
          concurrency: options.concurrency,
          settleTimeoutSeconds: options.settleTimeout,
          sweep: options.sweep,
          ...(options.hangs === undefined ? {} : { hangs: options.hangs }),
          ...(options.visibilityTimeout === undefined
            ? {}
            : { visibilityTimeoutSeconds: options.visibilityTimeout }),
        },
        progress,
      );
      writeFileSync(join(report.dir, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
      if (options.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      else
        process.stdout.write(`${formatSummary(report)}\n  full report: ${join(report.dir, 'report.json')}\n`);
      return report.passed ? EXIT_PASSED : EXIT_FAILED;
    } catch (error) {
      if (!(error instanceof SoakAbortedError)) throw error;
      process.stderr.write(`soak aborted (seed ${seed}): ${error.message}\n`);
      return EXIT_FAILED;
    }
  }),
);

process.exitCode = await runProgram(program, exit, process.argv.slice(2));
