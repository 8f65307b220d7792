import type { DashboardLinkState, SupervisorHealthEvent, SupervisorStatus } from '#contracts/agent-events.js';
import { type Clock, systemClock } from '../base/clock.js';
import type { WorkerLogger } from '../lifecycle/lane-worker.js';
import type { MetricsRecorder } from '../telemetry/ports.js';
import type { SupervisorEventStore } from './ports.js';

/**
 * Silent supervisor hosts: hosts whose latest `SupervisorHealth` report is
 * older than a staleness threshold.
 *
 * The metric alarms on the supervisor's reports (`SupervisorDashboardDisconnected`,
 * `SupervisorChildrenQuarantined`) only see hosts that report. A host whose
 * link to the bus stays down — or whose supervisor, or the host itself, is
 * down — sends nothing: no data points, so no alarm. This check reads the
 * latest report per host (`listSupervisorHealth`) and counts the hosts whose
 * report has aged past `staleMinutes`; the scheduled function publishes that
 * count as `SupervisorSilentHosts`, 0 included, for the `SupervisorSilentHosts` alarm.
 *
 * Rules:
 * - **silent**: `now − ts > staleMinutes` (strictly: a report exactly
 *   `staleMinutes` old is not silent yet), and the report's status is not
 *   `stopping`.
 * - **stopped**: the latest report says `stopping` and is older than the
 *   threshold. The supervisor sends `stopping` only while it drains on
 *   SIGTERM (a planned shutdown: `ShutdownPhase::Draining → Completed`); a
 *   crash (`Panic`), a killed process or a lost link never says it. A host
 *   taken out of service on purpose is not an incident, so it is not counted
 *   — it stays listed (the CLI shows it) until its item expires
 *   (`retentionDays`). The cost of this choice: a host whose planned stop is
 *   never followed by the restart someone meant to do stays quiet here too.
 * - `ts` is the supervisor's own sample time, as stored (a spooled report
 *   replayed later still says when it was taken). A report from the future
 *   (host clock ahead) has a negative age and is not silent.
 * - A host silent for longer than the store's retention drops out of the
 *   list (TTL) and so out of the count; the alarm has been firing long before.
 *
 * @example
 * const result = findSilentHosts(await store.listSupervisorHealth('prod'), { now: new Date(), staleMinutes: 15 });
 * result.counts.silent; // hosts with no report for more than 15 min
 */

/** One host's latest report, judged against the threshold. */
export interface SupervisorHostAge {
  readonly host: string;
  readonly environment: string;
  readonly status: SupervisorStatus;
  readonly dashboardLink: DashboardLinkState;
  readonly children: SupervisorHealthEvent['children'];
  /** The latest report's `ts`, as the supervisor wrote it. */
  readonly lastSeen: string;
  /** `now − lastSeen` in milliseconds (negative when the report is ahead of `now`). */
  readonly ageMs: number;
  /** Older than the threshold and not `stopping`: counted by `SupervisorSilentHosts`. */
  readonly silent: boolean;
  /** Older than the threshold after a planned shutdown (`stopping`): listed, not counted. */
  readonly stopped: boolean;
}

export interface SilentHostsResult {
  /** The instant the ages are measured from, ISO. */
  readonly now: string;
  readonly staleMinutes: number;
  /** Every host, sorted by host name. */
  readonly hosts: readonly SupervisorHostAge[];
  /** The silent ones, oldest report first. */
  readonly silent: readonly SupervisorHostAge[];
  readonly counts: {
    /** Hosts with a stored report. */
    readonly hosts: number;
    /** Reported within the threshold. */
    readonly reporting: number;
    readonly silent: number;
    readonly stopped: number;
  };
}

/** Largest staleness threshold the check takes, in minutes (one day; reports come every 30 s by default). */
export const MAX_STALE_MINUTES = 1440;

/**
 * How often the deployed check runs (its schedule, `rate(5 minutes)`), which is
 * also the period of the `SupervisorSilentHosts` alarm: one value per period.
 */
export const SILENT_HOSTS_CHECK_INTERVAL_MINUTES = 5;

const MINUTE_MS = 60_000;

/**
 * Judges each host's latest report against `staleMinutes` at `now`. Pure:
 * no I/O, no clock of its own.
 *
 * @example
 * findSilentHosts([report], { now: new Date('2026-05-14T12:16:00Z'), staleMinutes: 15 }).counts.silent; // 1 if report.ts is 12:00:59 or earlier
 */
export function findSilentHosts(
  reports: readonly Pick<
    SupervisorHealthEvent,
    'host' | 'environment' | 'ts' | 'status' | 'dashboardLink' | 'children'
  >[],
  options: { readonly now: Date; readonly staleMinutes: number },
): SilentHostsResult {
  const { now, staleMinutes } = options;
  if (Number.isNaN(now.getTime())) throw new RangeError('findSilentHosts: now must be a valid date');
  checkStaleMinutes('findSilentHosts', staleMinutes);
  const staleMs = staleMinutes * MINUTE_MS;
  const hosts = reports
    .map((report): SupervisorHostAge => {
      const at = Date.parse(report.ts);
      if (Number.isNaN(at)) throw new RangeError(`findSilentHosts: host ${report.host} has no valid ts`);
      const ageMs = now.getTime() - at;
      const stale = ageMs > staleMs;
      const stopping = report.status === 'stopping';
      return {
        host: report.host,
        environment: report.environment,
        status: report.status,
        dashboardLink: report.dashboardLink,
        children: { ...report.children },
        lastSeen: report.ts,
        ageMs,
        silent: stale && !stopping,
        stopped: stale && stopping,
      };
    })
    .sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0));
  const silent = hosts.filter((h) => h.silent).sort((a, b) => b.ageMs - a.ageMs);
  const stopped = hosts.filter((h) => h.stopped).length;
  return {
    now: now.toISOString(),
    staleMinutes,
    hosts,
    silent,
    counts: {
      hosts: hosts.length,
      reporting: hosts.length - silent.length - stopped,
      silent: silent.length,
      stopped,
    },
  };
}

export interface SupervisorSilentHostsCheckOptions {
  /** The environment whose hosts are checked: the `SUPERVISOR#<environment>` partition and the metric's `Environment`. */
  readonly environment: string;
  readonly staleMinutes: number;
  readonly store: Pick<SupervisorEventStore, 'listSupervisorHealth'>;
  /** Where `SupervisorSilentHosts` goes; its `Environment` must be `environment`. */
  readonly metrics: MetricsRecorder;
  readonly logger: WorkerLogger;
  /** @default systemClock */
  readonly clock?: Clock;
}

/**
 * The scheduled check: reads every host's latest report, records
 * `SupervisorSilentHosts` (the silent count, 0 when there is none, so the
 * alarm always has data while the check runs), and logs one warning per
 * silent host with `host` and `last_seen` (and the report's `status`,
 * `dashboard_link`, `age_seconds`: seed 001's names). A store failure is
 * thrown and nothing is recorded: the run fails, the next one checks again.
 *
 * @example
 * const check = createSupervisorSilentHostsCheck({ environment: 'prod', staleMinutes: 15, store, metrics, logger });
 * const result = await check(); // result.counts.silent
 */
export function createSupervisorSilentHostsCheck(
  options: SupervisorSilentHostsCheckOptions,
): () => Promise<SilentHostsResult> {
  const clock = options.clock ?? systemClock;
  const { environment, staleMinutes, store, metrics, logger } = options;
  // At construction, so a bad setting fails the function's cold start rather than each run.
  checkStaleMinutes('createSupervisorSilentHostsCheck', staleMinutes);
  return async () => {
    const reports = await store.listSupervisorHealth(environment);
    const result = findSilentHosts(reports, { now: clock.now(), staleMinutes });
    metrics.record('supervisorSilentHosts', result.counts.silent, {});
    for (const host of result.silent) {
      logger.warn('supervisor host silent', {
        environment,
        host: host.host,
        last_seen: host.lastSeen,
        age_seconds: Math.floor(host.ageMs / 1000),
        status: host.status,
        dashboard_link: host.dashboardLink,
        stale_minutes: staleMinutes,
      });
    }
    logger.info('supervisor silent host check', {
      environment,
      stale_minutes: staleMinutes,
      ...result.counts,
    });
    return result;
  };
}

function checkStaleMinutes(caller: string, staleMinutes: number): void {
  if (!(Number.isInteger(staleMinutes) && staleMinutes >= 1 && staleMinutes <= MAX_STALE_MINUTES)) {
    throw new RangeError(
      `${caller}: staleMinutes must be an integer from 1 to ${MAX_STALE_MINUTES}, got ${staleMinutes}`,
    );
  }
}
