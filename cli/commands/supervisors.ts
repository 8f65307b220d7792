import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DynamoDbSupervisorEventStore } from '#adapters/dynamodb/supervisor-event-store.js';
import { isSubcommand } from '#common/command-line.js';
import {
  findSilentHosts,
  MAX_STALE_MINUTES,
  type SilentHostsResult,
  type SupervisorHostAge,
} from '#core/supervisor/silent-hosts.js';
import {
  DEFAULT_ALARM_SETTINGS,
  ENVIRONMENT_NAMES,
  type EnvironmentName,
  parseRunlaneConfig,
} from '#lib/config/environment-config.js';
import { SUPERVISORS_SPEC } from '../cli-spec.js';
import { UsageError } from '../commands.js';
import { printable } from '../report/format.js';
import { table } from '../report/render-text.js';
import { resolveTarget } from '../targets.js';

export const SUPERVISORS_HELP = `runlane supervisors health — each supervisor host's latest SupervisorHealth report as the
control plane keeps it (one per host), and which hosts went silent: the same rule as the
scheduled check behind the SupervisorSilentHosts alarm.

Usage:
  runlane supervisors health --env <env> [--local] [--stale-minutes <n>] [--json]

Where to read:
  --env <env>            the environment: dev, staging or prod, read from the lifecycle table of
                         stack Runlane-<env> (found through its outputs; AWS credentials, region
                         from cdk.json)
  --local                the local stack's store instead (npm start); --env is then the
                         environment the agents report under (any name)
  --api-url <url>        the local stack (default http://127.0.0.1:3000)

Options:
  --stale-minutes <n>    a host whose latest report is older than n minutes is SILENT (1-${MAX_STALE_MINUTES};
                         default: the environment's alarms.supervisor.silentHosts.staleMinutes in
                         cdk.json — dev's with --local — 15 unless configured)
  --json                 JSON instead of a table
  --help

Columns: HOST, STATUS, DASHBOARD_LINK, children RUNNING / FAILED / QUARANTINED / TARGET,
LAST SEEN (the report's ts), AGE, and SILENT — no report for more than --stale-minutes — or
"stopped": the last report said stopping (a planned shutdown), which is not counted as silent.
Exit codes: 0 no host is silent (no host at all included), 1 at least one host is silent (or
the store could not be read), 2 bad usage.`;

/**
 * `runlane supervisors health`.
 *
 * @example
 * process.exitCode = await runSupervisors(['health', '--env', 'prod']);
 */
export async function runSupervisors(argv: readonly string[]): Promise<number> {
  try {
    return await supervisors(argv);
  } catch (error) {
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`runlane supervisors: ${(error as Error).message}\n\n${SUPERVISORS_HELP}`);
      return 2;
    }
    throw error;
  }
}

async function supervisors(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: SUPERVISORS_SPEC.options,
    strict: true,
  });
  if (values.help) {
    console.log(SUPERVISORS_HELP);
    return 0;
  }
  const [subcommand, ...extra] = positionals;
  if (!isSubcommand(SUPERVISORS_SPEC, subcommand)) {
    throw new UsageError(
      subcommand === undefined
        ? `give a command: ${Object.keys(SUPERVISORS_SPEC.subcommands).join(', ')}`
        : `unknown supervisors command "${subcommand}"`,
    );
  }
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
  const env = values.env;
  if (env === undefined || env.trim() === '') {
    throw new UsageError(values.local ? '--local needs --env <env>' : 'give --env <env>');
  }
  if (!values.local && !(ENVIRONMENT_NAMES as readonly string[]).includes(env)) {
    throw new UsageError(`--env must be one of ${ENVIRONMENT_NAMES.join(', ')} (or add --local)`);
  }
  const staleMinutes =
    values['stale-minutes'] === undefined
      ? configuredStaleMinutes(values.local ? 'dev' : (env as EnvironmentName))
      : parseStaleMinutes(values['stale-minutes']);

  const target = await resolveTarget({ apiUrl: values['api-url'], env: values.local ? undefined : env });
  const store = new DynamoDbSupervisorEventStore({
    client: target.clients.documents,
    tableName: target.settings.tableName,
  });
  const result = findSilentHosts(await store.listSupervisorHealth(env), { now: new Date(), staleMinutes });
  const source = { description: target.description, tableName: target.settings.tableName };
  if (values.json) console.log(JSON.stringify(toJson(env, source, result), null, 2));
  else console.log(renderText(env, source, result).join('\n'));
  return result.counts.silent > 0 ? 1 : 0;
}

function parseStaleMinutes(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !(n >= 1 && n <= MAX_STALE_MINUTES)) {
    throw new UsageError(
      `--stale-minutes must be a whole number from 1 to ${MAX_STALE_MINUTES}, got "${value}"`,
    );
  }
  return n;
}

/** The threshold the deployed check of `env` uses (cdk.json), the schema default when cdk.json has none. */
function configuredStaleMinutes(env: EnvironmentName): number {
  const cdk = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8'));
  const runlane = cdk.context?.runlane;
  if (runlane === undefined) return DEFAULT_ALARM_SETTINGS.supervisor.silentHosts.staleMinutes;
  return parseRunlaneConfig(runlane).environments[env].alarms.supervisor.silentHosts.staleMinutes;
}

interface Source {
  readonly description: string;
  readonly tableName: string;
}

function renderText(env: string, source: Source, result: SilentHostsResult): string[] {
  const where = `${source.description}, table ${source.tableName}`;
  if (result.hosts.length === 0) {
    return [`No supervisor has reported to ${printable(env)} (${where}).`];
  }
  const { counts } = result;
  const summary =
    `Supervisors of ${printable(env)} (${where}) at ${result.now}: ` +
    `${counts.hosts} host${counts.hosts === 1 ? '' : 's'}, ${counts.silent} silent ` +
    `(no report for more than ${result.staleMinutes} min)` +
    (counts.stopped > 0 ? `, ${counts.stopped} stopped (planned shutdown, not counted)` : '');
  return [
    summary,
    ...table(
      [
        'HOST',
        'STATUS',
        'DASHBOARD_LINK',
        'RUNNING',
        'FAILED',
        'QUARANTINED',
        'TARGET',
        'LAST SEEN',
        'AGE',
        '',
      ],
      result.hosts.map((h) => [
        printable(h.host),
        h.status,
        h.dashboardLink,
        String(h.children.running),
        String(h.children.failed),
        String(h.children.quarantined),
        String(h.children.targetCount),
        h.lastSeen,
        formatAge(h.ageMs),
        marker(h),
      ]),
      ['left', 'left', 'left', 'right', 'right', 'right', 'right', 'left', 'right'],
    ),
  ];
}

function marker(host: SupervisorHostAge): string {
  if (host.silent) return 'SILENT';
  if (host.stopped) return 'stopped';
  return '';
}

/** Seed 001's field names (`dashboard_link`, `target_count`), as the check's log line uses them. */
function toJson(env: string, source: Source, result: SilentHostsResult) {
  return {
    environment: env,
    source: source.description,
    tableName: source.tableName,
    now: result.now,
    staleMinutes: result.staleMinutes,
    counts: result.counts,
    hosts: result.hosts.map((h) => ({
      host: h.host,
      status: h.status,
      dashboard_link: h.dashboardLink,
      children: {
        running: h.children.running,
        failed: h.children.failed,
        quarantined: h.children.quarantined,
        target_count: h.children.targetCount,
      },
      last_seen: h.lastSeen,
      age_seconds: Math.floor(h.ageMs / 1000),
      silent: h.silent,
      stopped: h.stopped,
    })),
  };
}

/**
 * "42s", "16m 5s", "3h 2m", "2d 4h"; a report ahead of this machine's clock shows as "-5s".
 *
 * @example
 * formatAge(965_000); // '16m 5s'
 */
export function formatAge(ms: number): string {
  const sign = ms < 0 ? '-' : '';
  let seconds = Math.floor(Math.abs(ms) / 1000);
  const days = Math.floor(seconds / 86_400);
  seconds -= days * 86_400;
  const hours = Math.floor(seconds / 3600);
  seconds -= hours * 3600;
  const minutes = Math.floor(seconds / 60);
  seconds -= minutes * 60;
  if (days > 0) return `${sign}${days}d ${hours}h`;
  if (hours > 0) return `${sign}${hours}h ${minutes}m`;
  if (minutes > 0) return `${sign}${minutes}m ${seconds}s`;
  return `${sign}${seconds}s`;
}
