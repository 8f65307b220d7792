import { readFileSync } from 'node:fs';
import { DynamoDbSupervisorEventStore } from '#adapters/dynamodb/supervisor-event-store.js';
import {
  findSilentHosts,
  type SilentHostsResult,
  type SupervisorHostAge,
} from '#core/supervisor/silent-hosts.js';
import {
  DEFAULT_ALARM_SETTINGS,
  ENVIRONMENT_NAMES,
  type EnvironmentName,
  parseRunlaneConfig,
} from '#lib/config/environment-config.js';
import { UsageError } from '../errors.js';
import { formatAge, printable } from '../report/format.js';
import { table } from '../report/render-text.js';
import { resolveTarget } from '../targets.js';

/** The options of `runlane supervisors health` (cli/definitions/supervisors.ts). */
export interface SupervisorsHealthOptions {
  readonly env: string;
  readonly local?: boolean | undefined;
  readonly staleMinutes?: number | undefined;
  readonly json?: boolean | undefined;
  readonly apiUrl: string;
}

/**
 * `runlane supervisors health`: each supervisor host's latest report and the silent hosts; exit 1
 * when a host is silent.
 *
 * @example
 * process.exitCode = await runSupervisorsHealth({ env: 'prod', apiUrl });
 */
export async function runSupervisorsHealth(options: SupervisorsHealthOptions): Promise<number> {
  const { env } = options;
  const local = options.local === true;
  if (env.trim() === '') throw new UsageError('--env needs a name');
  if (!local && !(ENVIRONMENT_NAMES as readonly string[]).includes(env)) {
    throw new UsageError(`--env must be one of ${ENVIRONMENT_NAMES.join(', ')} (or add --local)`);
  }
  const staleMinutes =
    options.staleMinutes ?? configuredStaleMinutes(local ? 'dev' : (env as EnvironmentName));
  const target = await resolveTarget({ apiUrl: options.apiUrl, env: local ? undefined : env });
  const store = new DynamoDbSupervisorEventStore({
    client: target.clients.documents,
    tableName: target.settings.tableName,
  });
  const result = findSilentHosts(await store.listSupervisorHealth(env), { now: new Date(), staleMinutes });
  const source = { description: target.description, tableName: target.settings.tableName };
  if (options.json) console.log(JSON.stringify(toJson(env, source, result), null, 2));
  else console.log(renderText(env, source, result).join('\n'));
  return result.counts.silent > 0 ? 1 : 0;
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
