import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { SILENT_HOSTS_CHECK_INTERVAL_MINUTES } from '#core/supervisor/silent-hosts.js';
import { runlaneMetric } from '../runlane-metric.js';
import { type AlarmFactory, catalogPeriod, everyPeriod } from './alarm-factory.js';
import type { AlarmThresholds } from './thresholds.js';

/**
 * The supervisor alarms, all on environment totals: disconnected dashboard
 * reports and quarantined children above their threshold in every window of
 * the sustain, then the silent-hosts check's count above 0 in every check.
 */
export function addSupervisorAlarms(alarms: AlarmFactory, t: Readonly<AlarmThresholds>): void {
  addSustainedSupervisorAlarms(alarms, t);
  addSilentHostsAlarm(alarms, t);
}

function addSustainedSupervisorAlarms(alarms: AlarmFactory, t: Readonly<AlarmThresholds>): void {
  for (const [kind, settings, metric, what] of [
    [
      'supervisorDashboardDisconnected',
      t.supervisor.dashboardDisconnected,
      'supervisorDisconnectedReports',
      'health reports with dashboard_link "disconnected" (all hosts, Sum)',
    ],
    [
      'supervisorChildrenQuarantined',
      t.supervisor.childrenQuarantined,
      'supervisorQuarantinedChildren',
      'quarantined children of a supervisor (any host, Maximum)',
    ],
  ] as const) {
    alarms.add({
      kind,
      metric: runlaneMetric(
        metric,
        alarms.environmentName,
        {},
        { period: Duration.minutes(settings.windowMinutes) },
      ),
      threshold: settings.threshold,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      condition: `${what} above ${settings.threshold} in every ${settings.windowMinutes}-min window for ${settings.sustainMinutes} min`,
      evaluation: everyPeriod(settings.sustainMinutes / settings.windowMinutes),
    });
  }
}

/** Reads the scheduled check's count, which it publishes every run: missing data is breaching (catalog). */
function addSilentHostsAlarm(alarms: AlarmFactory, t: Readonly<AlarmThresholds>): void {
  const silent = t.supervisor.silentHosts;
  alarms.add({
    kind: 'supervisorSilentHosts',
    metric: runlaneMetric(
      'supervisorSilentHosts',
      alarms.environmentName,
      {},
      {
        period: catalogPeriod('supervisorSilentHosts', Duration.minutes(SILENT_HOSTS_CHECK_INTERVAL_MINUTES)),
      },
    ),
    threshold: 0,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    condition: `hosts with no SupervisorHealth report for more than ${silent.staleMinutes} min (the scheduled check, a planned shutdown excepted) above 0 in every ${SILENT_HOSTS_CHECK_INTERVAL_MINUTES}-min check for ${silent.sustainMinutes} min; the check's log names them, \`runlane supervisors health\` lists them; if the supervisor is not running, P1-001. No data (the check did not run) counts as breaching`,
    evaluation: everyPeriod(silent.sustainMinutes / SILENT_HOSTS_CHECK_INTERVAL_MINUTES),
  });
}
