import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { isSubcommand } from '#common/command-line.js';
import { RUNNER_EVIDENCE_FILES } from '#contracts/agent-events.js';
import {
  AUTO_SKIP_THRESHOLD,
  buildDailyReport,
  type DailyReport,
  FAILURE_RATE_THRESHOLD,
  P95_DURATION_THRESHOLD_MS,
  type RunnerEventSource,
  reportWindow,
  STALL_RATE_THRESHOLD_PER_SECOND,
} from '#core/runner/report.js';
import { REPORT_SPEC } from '../cli-spec.js';
import { UsageError } from '../commands.js';
import { loadEnvironmentSource } from '../report/environment-source.js';
import { EvidenceFileSource } from '../report/evidence-source.js';
import { parseNow } from '../report/options.js';
import { renderReportHtml } from '../report/render-html.js';
import { renderReportText } from '../report/render-text.js';

export const REPORT_HELP = `runlane report daily — seed 002's success criteria over the 24 h ending now, from the runner's
stall events and run summaries: a pass/fail table, stalls by root cause, environment, host and
command type, and a self-contained HTML report with charts (inline SVG; it loads nothing and
runs no script).

Criteria (an event counts when now − 24 h < ts ≤ now; windows slide over every start time and
lie inside the 24 h, so a burst across a clock boundary is seen whole):
  stall rate     stalls in the worst 5-minute window / 300 s < ${STALL_RATE_THRESHOLD_PER_SECOND} per second (6 stalls fail)
  P95 duration   nearest-rank 95th percentile of the runs' durationMs < ${P95_DURATION_THRESHOLD_MS / 1000} s
  auto-skips     runs the watchdog gave up on at their hard deadline (run outcome hard_timeout,
                 or a timeout "hard" stall whose run summary is missing) < ${AUTO_SKIP_THRESHOLD} in 24 h
  failure rate   worst 10-minute window that has runs: runs not success / runs < ${FAILURE_RATE_THRESHOLD * 100} %
                 (aborted and timed-out runs count as not success; on a quiet host a failed run
                 with no other run within 10 minutes is a 100 % window — the detail shows "1 of 1")
No data: P95 and failure rate need run summaries; stall rate and auto-skips need a stall or a run
in the period. Without it a criterion shows n/a and does not fail the report (--require-data
makes it fail).

Where to read:
  --evidence <file>  stall events (default ${RUNNER_EVIDENCE_FILES.stalls})
  --runs <file>      run summaries (default run-summaries.jsonl next to the evidence file)
  --env <env>        the control plane's store of an environment (dev, staging, prod): the events
                     the ingest Lambda stored in the lifecycle table of stack Runlane-<env>
                     (AWS credentials and the region from cdk.json)
  --local            with --env: the local stack's store instead (npm start), events the agents
                     sent to its bus under that environment
  --api-url <url>    the local stack (default http://127.0.0.1:3000)
  runlane-agent creates each file at its first event: a default file may be missing when the
  other exists; a file named here must exist. Invalid lines and an unfinished last line are
  skipped and counted.

Options:
  --now <iso>        end of the 24 h (default: now)
  --html <file>      where to write the HTML report (default daily-report-<yyyy-mm-dd>.html
                     next to the evidence file, the UTC date of --now)
  --require-data     a criterion without data fails the report
  --json             the report as JSON, with the HTML report's path
  --help
Exit codes: 0 no criterion failed, 1 a criterion failed (or the evidence could not be read),
2 bad usage.`;

/**
 * `runlane report daily`.
 *
 * @example
 * process.exitCode = await runReport(['daily', '--evidence', 'evidence/runner/stall-events.jsonl']);
 */
export async function runReport(argv: readonly string[]): Promise<number> {
  try {
    return await reportDaily(argv);
  } catch (error) {
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`runlane report: ${(error as Error).message}\n\n${REPORT_HELP}`);
      return 2;
    }
    throw error;
  }
}

async function reportDaily(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: REPORT_SPEC.options,
    strict: true,
  });
  if (values.help) {
    console.log(REPORT_HELP);
    return 0;
  }
  const [subcommand, ...extra] = positionals;
  if (!isSubcommand(REPORT_SPEC, subcommand)) {
    const reports = Object.keys(REPORT_SPEC.subcommands).join(', ');
    throw new UsageError(
      subcommand === undefined
        ? `give a report: ${reports}`
        : `unknown report "${subcommand}" (try: ${reports})`,
    );
  }
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
  if (values.local && values.env === undefined) throw new UsageError('--local needs --env <environment>');
  if (values.env !== undefined && (values.evidence !== undefined || values.runs !== undefined))
    throw new UsageError('--env reads the environment’s event store: drop --evidence/--runs');
  const now = parseNow(values.now);

  const stallsFile = values.evidence ?? RUNNER_EVIDENCE_FILES.stalls;
  const runsFile = values.runs ?? join(dirname(stallsFile), 'run-summaries.jsonl');
  let source: RunnerEventSource;
  let sources: string[];
  if (values.env !== undefined) {
    source = await loadEnvironmentSource(values.env, { local: values.local, apiUrl: values['api-url'] });
    sources = [`environment ${values.env}${values.local ? ` (local stack ${values['api-url']})` : ''}`];
  } else {
    source = new EvidenceFileSource({
      stallsFile,
      runsFile,
      require: { stalls: values.evidence !== undefined, runs: values.runs !== undefined },
    });
    sources = [stallsFile, runsFile];
  }

  const report = buildDailyReport(await source.load(reportWindow(now)), now);
  const htmlFile = resolve(
    values.html ?? join(dirname(stallsFile), `daily-report-${now.toISOString().slice(0, 10)}.html`),
  );
  await mkdir(dirname(htmlFile), { recursive: true });
  await writeFile(htmlFile, renderReportHtml(report, { sources }));

  if (values.json) console.log(JSON.stringify({ ...report, sources, html: htmlFile }, null, 2));
  else console.log(`${renderReportText(report)}\n\nHTML report: ${htmlFile}`);
  return failed(report, values['require-data']) ? 1 : 0;
}

/** Whether the report fails: a criterion failed, or (with --require-data) one had no data. */
export function failed(report: DailyReport, requireData: boolean): boolean {
  if (!report.passed) return true;
  return requireData && Object.values(report.criteria).some((c) => c.status === 'no_data');
}
