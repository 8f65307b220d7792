import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { RUNNER_EVIDENCE_FILES } from '#contracts/agent-events.js';
import {
  buildDailyReport,
  type DailyReport,
  type RunnerEventSource,
  reportWindow,
} from '#core/runner/report.js';
import { UsageError } from '../errors.js';
import { loadEnvironmentSource } from '../report/environment-source.js';
import { EvidenceFileSource } from '../report/evidence-source.js';
import { renderReportHtml } from '../report/render-html.js';
import { renderReportText } from '../report/render-text.js';

/** The options of `runlane report daily` (cli/definitions/report.ts). */
export interface ReportDailyOptions {
  readonly evidence?: string | undefined;
  readonly runs?: string | undefined;
  readonly env?: string | undefined;
  readonly local?: boolean | undefined;
  readonly apiUrl: string;
  readonly now?: Date | undefined;
  readonly html?: string | undefined;
  readonly requireData?: boolean | undefined;
  readonly json?: boolean | undefined;
}

/**
 * `runlane report daily`: seed 002's criteria over the 24 h ending at `--now`, as text (or JSON)
 * and an HTML report; exit 1 when a criterion failed.
 *
 * @example
 * process.exitCode = await runReportDaily({ evidence: 'evidence/runner/stall-events.jsonl', apiUrl });
 */
export async function runReportDaily(options: ReportDailyOptions): Promise<number> {
  if (options.local && options.env === undefined) throw new UsageError('--local needs --env <environment>');
  const now = options.now ?? new Date();
  const stallsFile = options.evidence ?? RUNNER_EVIDENCE_FILES.stalls;
  const { source, sources } = await eventSource(options, stallsFile);
  const report = buildDailyReport(await source.load(reportWindow(now)), now);
  const htmlFile = resolve(
    options.html ?? join(dirname(stallsFile), `daily-report-${now.toISOString().slice(0, 10)}.html`),
  );
  await mkdir(dirname(htmlFile), { recursive: true });
  await writeFile(htmlFile, renderReportHtml(report, { sources }));

  if (options.json) console.log(JSON.stringify({ ...report, sources, html: htmlFile }, null, 2));
  else console.log(`${renderReportText(report)}\n\nHTML report: ${htmlFile}`);
  return failed(report, options.requireData === true) ? 1 : 0;
}

/** Where the events come from: an environment's store (--env), else the evidence files. */
async function eventSource(
  options: ReportDailyOptions,
  stallsFile: string,
): Promise<{ source: RunnerEventSource; sources: string[] }> {
  if (options.env !== undefined) {
    const local = options.local === true;
    return {
      source: await loadEnvironmentSource(options.env, { local, apiUrl: options.apiUrl }),
      sources: [`environment ${options.env}${local ? ` (local stack ${options.apiUrl})` : ''}`],
    };
  }
  const runsFile = options.runs ?? join(dirname(stallsFile), 'run-summaries.jsonl');
  return {
    source: new EvidenceFileSource({
      stallsFile,
      runsFile,
      require: { stalls: options.evidence !== undefined, runs: options.runs !== undefined },
    }),
    sources: [stallsFile, runsFile],
  };
}

/** Whether the report fails: a criterion failed, or (with --require-data) one had no data. */
export function failed(report: DailyReport, requireData: boolean): boolean {
  if (!report.passed) return true;
  return requireData && Object.values(report.criteria).some((c) => c.status === 'no_data');
}
