import { type Command, Option } from '@commander-js/extra-typings';
import { RUNNER_EVIDENCE_FILES } from '#contracts/agent-events.js';
import {
  AUTO_SKIP_THRESHOLD,
  FAILURE_RATE_THRESHOLD,
  P95_DURATION_THRESHOLD_MS,
  STALL_RATE_THRESHOLD_PER_SECOND,
} from '#core/runner/report.js';
import { exitCodes } from '../help.js';
import { apiUrlOption, isoTime, jsonOption, WHERE } from '../options.js';
import { commandGroup, type ProgramContext, runs } from './context.js';

const DAILY = `Seed 002's success criteria over the 24 h ending now, from the runner's stall
events and run summaries: a pass/fail table, stalls by root cause, environment,
host and command type, and a self-contained HTML report with charts (inline SVG;
it loads nothing and runs no script).

Criteria (an event counts when now − 24 h < ts ≤ now; windows slide over every
start time and lie inside the 24 h, so a burst across a clock boundary is seen
whole):
  stall rate     stalls in the worst 5-minute window / 300 s
                 < ${STALL_RATE_THRESHOLD_PER_SECOND} per second (6 stalls fail)
  P95 duration   nearest-rank 95th percentile of the runs' durationMs < ${P95_DURATION_THRESHOLD_MS / 1000} s
  auto-skips     runs the watchdog gave up on at their hard deadline (run
                 outcome hard_timeout, or a timeout "hard" stall whose run
                 summary is missing) < ${AUTO_SKIP_THRESHOLD} in 24 h
  failure rate   worst 10-minute window that has runs: runs not success / runs
                 < ${FAILURE_RATE_THRESHOLD * 100} % (aborted and timed-out runs count as not success; on
                 a quiet host a failed run with no other run within 10 minutes
                 is a 100 % window — the detail shows "1 of 1")
No data: P95 and failure rate need run summaries; stall rate and auto-skips need
a stall or a run in the period. Without it a criterion shows n/a and
does not fail the report (--require-data makes it fail).

runlane-agent creates each evidence file at its first event: a default file may
be missing when the other exists; a file named here must exist. Invalid lines
and an unfinished last line are skipped and counted.`;

/** `runlane report daily`: seed 002's daily report. */
export function addReportCommands(program: Command, { exit }: ProgramContext): void {
  const report = commandGroup(program, 'report', "The runner's reports.").summary(
    "seed 002's success criteria over the last 24 h, breakdowns and an HTML report",
  );
  const daily = report
    .command('daily')
    .summary("seed 002's success criteria over the last 24 h, breakdowns and an HTML report")
    .description(DAILY)
    .addOption(
      new Option('--evidence <file>', `stall events (default ${RUNNER_EVIDENCE_FILES.stalls})`).helpGroup(
        WHERE,
      ),
    )
    .addOption(
      new Option(
        '--runs <file>',
        'run summaries (default run-summaries.jsonl next to the evidence file)',
      ).helpGroup(WHERE),
    )
    .addOption(
      new Option(
        '--env <env>',
        "the control plane's store of an environment (dev, staging, prod): the events the ingest " +
          'Lambda stored in the lifecycle table of stack Runlane-<env> (AWS credentials, region from cdk.json)',
      )
        .conflicts(['evidence', 'runs'])
        .helpGroup(WHERE),
    )
    .addOption(
      new Option(
        '--local',
        "with --env: the local stack's store instead (npm start), the events agents sent to its bus " +
          'under that environment',
      ).helpGroup(WHERE),
    )
    .addOption(apiUrlOption('the local stack, with --local'))
    .addOption(new Option('--now <iso>', 'end of the 24 h (default: now)').argParser(isoTime))
    .addOption(
      new Option(
        '--html <file>',
        'where to write the HTML report (default daily-report-<yyyy-mm-dd>.html next to the evidence ' +
          'file, the UTC date of --now)',
      ),
    )
    .addOption(new Option('--require-data', 'a criterion without data fails the report'))
    .addOption(jsonOption("the report as JSON, with the HTML report's path"));
  exitCodes(daily, { 0: 'no criterion failed', 1: 'a criterion failed (or the evidence could not be read)' });
  daily.action(
    runs(exit, async (options) => (await import('../commands/report.js')).runReportDaily(options)),
  );
}
