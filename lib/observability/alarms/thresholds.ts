import { MAX_STALE_MINUTES, SILENT_HOSTS_CHECK_INTERVAL_MINUTES } from '#core/supervisor/silent-hosts.js';
import { WORKER_SWEEP_INTERVAL_MINUTES } from '#core/workers/sweep.js';
import {
  type AlarmSettings,
  type BurnAlarmSettings,
  DEFAULT_ALARM_SETTINGS,
  type SilentHostsAlarmSettings,
  type SustainedAlarmSettings,
  type SweepAlarmSettings,
  type WorkerAlarmSettings,
} from '../../config/environment-config.js';

/** The thresholds of an environment's alarms (the `alarms` config without its subscriptions). */
export type AlarmThresholds = Omit<AlarmSettings, 'criticalEmails' | 'warningEmails'>;

/**
 * The thresholds in force: `overrides` merged over the configuration schema's defaults.
 *
 * @example
 * resolveAlarmThresholds({ workerErrors: 3 }).oldestMessageAgeSeconds; // the default
 */
export function resolveAlarmThresholds(overrides: Partial<AlarmThresholds> = {}): Readonly<AlarmThresholds> {
  const { criticalEmails: _c, warningEmails: _w, ...defaults } = DEFAULT_ALARM_SETTINGS;
  return { ...defaults, ...overrides };
}

/** Every problem of a set of thresholds, each prefixed with its path under `thresholds.`. */
export function thresholdProblems(t: Readonly<AlarmThresholds>): string[] {
  const problems: string[] = [];
  type NumericThreshold = {
    [K in keyof AlarmThresholds]: AlarmThresholds[K] extends number ? K : never;
  }[keyof AlarmThresholds];
  const integer = (name: NumericThreshold, min: number, max: number) => {
    const value = t[name];
    if (!(Number.isInteger(value) && value >= min && value <= max)) {
      problems.push(`thresholds.${name}: must be an integer from ${min} to ${max}, got ${value}`);
    }
  };
  integer('oldestMessageAgeSeconds', 60, 1_209_600);
  integer('workerErrors', 1, Number.MAX_SAFE_INTEGER);
  integer('workerThrottles', 1, Number.MAX_SAFE_INTEGER);
  integer('needsReviewGrowth', 1, Number.MAX_SAFE_INTEGER);
  integer('needsReviewWindowMinutes', 5, 1440);
  if (!(t.endToEndLatencyP95Seconds > 0 && t.endToEndLatencyP95Seconds <= 86_400)) {
    problems.push(
      `thresholds.endToEndLatencyP95Seconds: must be above 0 and at most 86400, got ${t.endToEndLatencyP95Seconds}`,
    );
  }
  for (const [name, burn] of Object.entries(t.runnerStalls) as [string, BurnAlarmSettings][]) {
    problems.push(...burnProblems(`thresholds.runnerStalls.${name}`, burn));
  }
  const { silentHosts, ...sustainedAlarms } = t.supervisor;
  for (const [name, sustained] of Object.entries(sustainedAlarms) as [string, SustainedAlarmSettings][]) {
    problems.push(...sustainedProblems(`thresholds.supervisor.${name}`, sustained));
  }
  problems.push(...silentHostsProblems('thresholds.supervisor.silentHosts', silentHosts));
  problems.push(...workerAlarmProblems('thresholds.workers', t.workers));
  return problems;
}

function workerAlarmProblems(path: string, alarms: WorkerAlarmSettings): string[] {
  const problems: string[] = [];
  const every = WORKER_SWEEP_INTERVAL_MINUTES;
  for (const [name, alarm] of [
    ['offlineWorkers', alarms.offlineWorkers],
    ['stuckTasks', alarms.stuckTasks],
  ] as const satisfies readonly (readonly [string, SweepAlarmSettings])[]) {
    if (!(Number.isInteger(alarm.threshold) && alarm.threshold >= 0)) {
      problems.push(`${path}.${name}.threshold: must be an integer of at least 0, got ${alarm.threshold}`);
    }
    if (
      !(
        Number.isInteger(alarm.sustainMinutes) &&
        alarm.sustainMinutes >= every &&
        alarm.sustainMinutes <= 1440 &&
        alarm.sustainMinutes % every === 0
      )
    ) {
      problems.push(
        `${path}.${name}.sustainMinutes: must be a multiple of the sweep interval (${every}) from ${every} to 1440, got ${alarm.sustainMinutes}`,
      );
    }
  }
  for (const [name, minutes] of [
    ['taskDlq', alarms.taskDlq.sustainMinutes],
    ['queueNotDraining', alarms.queueNotDraining.sustainMinutes],
  ] as const) {
    if (!(Number.isInteger(minutes) && minutes >= 1 && minutes <= 1440)) {
      problems.push(`${path}.${name}.sustainMinutes: must be an integer from 1 to 1440, got ${minutes}`);
    }
  }
  const age = alarms.queueNotDraining.oldestMessageAgeSeconds;
  if (!(Number.isInteger(age) && age >= 60 && age <= 1_209_600)) {
    problems.push(
      `${path}.queueNotDraining.oldestMessageAgeSeconds: must be an integer from 60 to 1209600, got ${age}`,
    );
  }
  return problems;
}

function silentHostsProblems(path: string, alarm: SilentHostsAlarmSettings): string[] {
  const problems: string[] = [];
  if (
    !(
      Number.isInteger(alarm.staleMinutes) &&
      alarm.staleMinutes >= 1 &&
      alarm.staleMinutes <= MAX_STALE_MINUTES
    )
  ) {
    problems.push(
      `${path}.staleMinutes: must be an integer from 1 to ${MAX_STALE_MINUTES}, got ${alarm.staleMinutes}`,
    );
  }
  const every = SILENT_HOSTS_CHECK_INTERVAL_MINUTES;
  if (
    !(
      Number.isInteger(alarm.sustainMinutes) &&
      alarm.sustainMinutes >= every &&
      alarm.sustainMinutes <= 1440 &&
      alarm.sustainMinutes % every === 0
    )
  ) {
    problems.push(
      `${path}.sustainMinutes: must be a multiple of the check interval (${every}) from ${every} to 1440, got ${alarm.sustainMinutes}`,
    );
  }
  return problems;
}

function sustainedProblems(path: string, alarm: SustainedAlarmSettings): string[] {
  const problems: string[] = [];
  if (!(Number.isInteger(alarm.threshold) && alarm.threshold >= 0)) {
    problems.push(`${path}.threshold: must be an integer of at least 0, got ${alarm.threshold}`);
  }
  return [...problems, ...windowProblems(path, alarm)];
}

function burnProblems(path: string, burn: BurnAlarmSettings): string[] {
  const problems: string[] = [];
  if (!(burn.ratePerSecond > 0))
    problems.push(`${path}.ratePerSecond: must be above 0, got ${burn.ratePerSecond}`);
  return [...problems, ...windowProblems(path, burn)];
}

/** A window (the alarm period) and a sustain of whole windows, both 1–1440 minutes. */
function windowProblems(path: string, alarm: { windowMinutes: number; sustainMinutes: number }): string[] {
  const problems: string[] = [];
  for (const field of ['windowMinutes', 'sustainMinutes'] as const) {
    const value = alarm[field];
    if (!(Number.isInteger(value) && value >= 1 && value <= 1440)) {
      problems.push(`${path}.${field}: must be an integer from 1 to 1440, got ${value}`);
    }
  }
  if (alarm.windowMinutes > 0 && alarm.sustainMinutes % alarm.windowMinutes !== 0) {
    problems.push(
      `${path}.sustainMinutes: must be a multiple of windowMinutes (${alarm.windowMinutes}), got ${alarm.sustainMinutes}`,
    );
  }
  return problems;
}
