import { DynamoDbWorkerTaskStore } from '#adapters/dynamodb/worker-task-store.js';
import { findStuckTasks, type StuckTask, stuckCandidates } from '#core/workers/observability.js';
import type { WorkerTaskRecord } from '#core/workers/ports.js';
import { DEFAULT_STUCK_TASK_MINUTES } from '#core/workers/settings.js';
import { loadRunlaneConfig } from '#lib/config/cdk-json.js';
import type { EnvironmentName } from '#lib/config/environment-config.js';
import { formatAge, plural, printable } from '../report/format.js';
import { table } from '../report/render-text.js';
import { resolveTarget } from '../targets.js';

/** The options of `runlane tasks stuck` (cli/definitions/tasks.ts). */
export interface TasksStuckOptions {
  readonly apiUrl: string;
  readonly env?: EnvironmentName | undefined;
  readonly minutes?: number | undefined;
  readonly json?: boolean | undefined;
}

/** Executing tasks examined (newest first); a backlog beyond this is a different incident. */
const EXECUTING_SAMPLE_SIZE = 5_000;

/**
 * `runlane tasks stuck`: delegated tasks executing for longer than the threshold; exit 1 when
 * one is (or the store could not be read).
 *
 * @example
 * process.exitCode = await runTasksStuck({ apiUrl: 'http://127.0.0.1:3000', minutes: 5 });
 */
export async function runTasksStuck(options: TasksStuckOptions): Promise<number> {
  try {
    const source = await taskSource(options.apiUrl, options.env);
    const minutes = options.minutes ?? source.defaultMinutes;
    const now = new Date();
    const stuck = await findStuck(source, now, minutes * 60_000);
    if (options.json) {
      const report = {
        environment: source.environment,
        source: source.description,
        tableName: source.tableName,
        now: now.toISOString(),
        minutes,
        stuck_tasks: stuck,
      };
      console.log(JSON.stringify(report, null, 2));
    } else {
      console.log(renderStuck(source, now, minutes, stuck).join('\n'));
    }
    return stuck.length > 0 ? 1 : 0;
  } catch (error) {
    console.error(`runlane tasks: ${(error as Error).message}`);
    return 1;
  }
}

interface StuckTaskReport extends StuckTask {
  readonly kind: string;
  readonly command_id: string;
  readonly correlation_id: string;
  /** Every result key stored for the task (facts, logs, …). */
  readonly stored_result_keys: readonly string[];
}

/** The executing tasks older than the threshold that no result finished, with what the store knows of each. */
async function findStuck(source: TaskSource, now: Date, stuckAfterMs: number): Promise<StuckTaskReport[]> {
  const store = new DynamoDbWorkerTaskStore({
    client: source.documents,
    tableName: source.tableName,
    environment: source.environment,
  });
  const candidates = stuckCandidates(
    await store.listByStatus('executing', EXECUTING_SAMPLE_SIZE),
    now,
    stuckAfterMs,
  );
  const keys = new Map(
    await Promise.all(
      candidates.map(async (task) => [task.taskId, await store.listResultKeys(task.taskId)] as const),
    ),
  );
  const byId = new Map<string, WorkerTaskRecord>(candidates.map((task) => [task.taskId, task]));
  return findStuckTasks(candidates, keys, now, stuckAfterMs).map((task) => {
    const record = byId.get(task.task_id);
    return {
      ...task,
      kind: record?.message.input.kind ?? 'unknown',
      command_id: record?.message.commandId ?? '',
      correlation_id: record?.message.correlationId ?? '',
      stored_result_keys: keys.get(task.task_id) ?? [],
    };
  });
}

function renderStuck(
  source: TaskSource,
  now: Date,
  minutes: number,
  stuck: readonly StuckTaskReport[],
): string[] {
  const head =
    `Tasks executing for more than ${minutes} min in ${source.environment} ` +
    `(${source.description}, table ${source.tableName}) at ${now.toISOString()}`;
  if (stuck.length === 0) return [`${head}: none stuck.`];
  return [
    `${head}: ${plural(stuck.length, 'stuck task')}`,
    ...table(
      ['TASK', 'KIND', 'SITE', 'CLAIMED BY', 'EXECUTING SINCE', 'AGE', 'RESULT KEY', 'COMMAND'],
      stuck.map((task) => [
        task.task_id,
        task.kind,
        task.site,
        printable(task.claimed_by ?? '-'),
        task.executing_since,
        formatAge(task.age_ms),
        task.result_key ?? 'none',
        task.command_id,
      ]),
      ['left', 'left', 'left', 'left', 'left', 'right', 'left', 'left'],
    ),
    ...stuck.map((task) =>
      task.result_key === null
        ? `  ${task.task_id}: no execution_result arrived — check that ${printable(task.claimed_by ?? 'its worker')}'s ` +
          `result submission to /api/workers/sites/${task.site}/results succeeds and look in its offline spool ` +
          '(npm run agent -- worker status --config <its config>)'
        : `  ${task.task_id}: ${task.result_key} is stored but did not finish the task (another worker or attempt ` +
          `sent it) — npx runlane trace ${task.command_id}`,
    ),
  ];
}

interface TaskSource {
  readonly description: string;
  readonly environment: string;
  readonly tableName: string;
  readonly documents: Awaited<ReturnType<typeof resolveTarget>>['clients']['documents'];
  readonly defaultMinutes: number;
}

/** The local stack (its /_local/info names the worker environment and threshold) or a deployed environment. */
async function taskSource(apiUrl: string, env: EnvironmentName | undefined): Promise<TaskSource> {
  const target = await resolveTarget({ apiUrl, env });
  if (env !== undefined) {
    const config = loadRunlaneConfig().environments[env];
    return {
      description: target.description,
      environment: env,
      tableName: target.settings.tableName,
      documents: target.clients.documents,
      defaultMinutes: config.workers.stuckTaskMinutes,
    };
  }
  const info = (await (await fetch(`${apiUrl}/_local/info`)).json()) as {
    workers?: { environment?: string; stuckTaskMinutes?: number };
  };
  return {
    description: target.description,
    environment: info.workers?.environment ?? 'local',
    tableName: target.settings.tableName,
    documents: target.clients.documents,
    defaultMinutes: info.workers?.stuckTaskMinutes ?? DEFAULT_STUCK_TASK_MINUTES,
  };
}
