import { parseArgs } from 'node:util';
import { DynamoDbWorkerTaskStore } from '#adapters/dynamodb/worker-task-store.js';
import { isSubcommand } from '#common/command-line.js';
import { findStuckTasks, type StuckTask, stuckCandidates } from '#core/workers/observability.js';
import type { WorkerTaskRecord } from '#core/workers/ports.js';
import { DEFAULT_STUCK_TASK_MINUTES } from '#core/workers/settings.js';
import { loadRunlaneConfig } from '#lib/config/cdk-json.js';
import { ENVIRONMENT_NAMES, type EnvironmentName } from '#lib/config/environment-config.js';
import { TASKS_SPEC } from '../cli-spec.js';
import { UsageError } from '../commands.js';
import { plural, printable } from '../report/format.js';
import { table } from '../report/render-text.js';
import { resolveTarget } from '../targets.js';
import { formatAge } from './supervisors.js';

export const TASKS_HELP = `runlane tasks stuck — seed 004's "Tasks stuck in executing": delegated tasks a worker claimed
longer ago than the threshold and whose execution_result never finished them, oldest first, each
with the matching result idempotency key (<task_id>#<attempt>#execution_result) if the control
plane stored one, the worker that claimed it, and the command to trace.

Usage:
  runlane tasks stuck [--minutes <n>] [--json]

Where (the task store in the lifecycle table, as runlane trace reads it):
  --api-url <url>      the local stack (default http://127.0.0.1:3000; npm start)
  --env <env>          a deployed environment (${ENVIRONMENT_NAMES.join(', ')}): the lifecycle table of stack
                       Runlane-<env> (found through its outputs; AWS credentials, region from cdk.json)

Options:
  --minutes <n>        executing for longer than n minutes is stuck (default: the local stack's
                       WORKER_STUCK_TASK_MINUTES, or the environment's workers.stuckTaskMinutes in
                       cdk.json, else ${DEFAULT_STUCK_TASK_MINUTES}); fractions allowed
  --json               JSON instead of a table
  --help

What next, per the runbook: RESULT KEY present → the result arrived but could not finish the task
(another worker or attempt sent it; see the task's command with runlane trace). None → the result
never arrived: check that the worker's result submission succeeds and look in its offline spool
(npm run agent -- worker status --config <its config>).
Exit codes: 0 no task is stuck, 1 at least one is (or the store could not be read), 2 bad usage.`;

/** Executing tasks examined (newest first); a backlog beyond this is a different incident. */
const EXECUTING_SAMPLE_SIZE = 5_000;

/**
 * `runlane tasks stuck`.
 *
 * @example
 * process.exitCode = await runTasks(['stuck', '--minutes', '5']);
 */
export async function runTasks(argv: readonly string[]): Promise<number> {
  try {
    return await tasks(argv);
  } catch (error) {
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`runlane tasks: ${(error as Error).message}\n\n${TASKS_HELP}`);
      return 2;
    }
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

async function tasks(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: TASKS_SPEC.options,
    strict: true,
  });
  if (values.help) {
    console.log(TASKS_HELP);
    return 0;
  }
  const [subcommand, ...rest] = positionals;
  if (!isSubcommand(TASKS_SPEC, subcommand)) {
    throw new UsageError(
      subcommand === undefined
        ? `give a command: ${Object.keys(TASKS_SPEC.subcommands).join(', ')}`
        : `unknown tasks command "${subcommand}"`,
    );
  }
  if (rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}"`);
  if (values.env !== undefined && !(ENVIRONMENT_NAMES as readonly string[]).includes(values.env)) {
    throw new UsageError(`--env must be one of ${ENVIRONMENT_NAMES.join(', ')}`);
  }
  const minutesOption = values.minutes === undefined ? undefined : parseMinutes(values.minutes);

  const source = await taskSource(values['api-url'], values.env as EnvironmentName | undefined);
  const minutes = minutesOption ?? source.defaultMinutes;
  const stuckAfterMs = minutes * 60_000;
  const store = new DynamoDbWorkerTaskStore({
    client: source.documents,
    tableName: source.tableName,
    environment: source.environment,
  });
  const now = new Date();
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
  const stuck: StuckTaskReport[] = findStuckTasks(candidates, keys, now, stuckAfterMs).map((task) => {
    const record = byId.get(task.task_id);
    return {
      ...task,
      kind: record?.message.input.kind ?? 'unknown',
      command_id: record?.message.commandId ?? '',
      correlation_id: record?.message.correlationId ?? '',
      stored_result_keys: keys.get(task.task_id) ?? [],
    };
  });

  if (values.json) {
    console.log(
      JSON.stringify(
        {
          environment: source.environment,
          source: source.description,
          tableName: source.tableName,
          now: now.toISOString(),
          minutes,
          stuck_tasks: stuck,
        },
        null,
        2,
      ),
    );
    return stuck.length > 0 ? 1 : 0;
  }
  const head =
    `Tasks executing for more than ${minutes} min in ${source.environment} ` +
    `(${source.description}, table ${source.tableName}) at ${now.toISOString()}`;
  if (stuck.length === 0) {
    console.log(`${head}: none stuck.`);
    return 0;
  }
  console.log(
    [
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
            'result submission to /api/workers/results succeeds and look in its offline spool ' +
            '(npm run agent -- worker status --config <its config>)'
          : `  ${task.task_id}: ${task.result_key} is stored but did not finish the task (another worker or attempt ` +
            `sent it) — npx runlane trace ${task.command_id}`,
      ),
    ].join('\n'),
  );
  return 1;
}

function parseMinutes(value: string): number {
  const minutes = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || !(minutes > 0) || minutes > 7 * 24 * 60) {
    throw new UsageError(`--minutes must be a number of minutes above 0 (at most a week), got "${value}"`);
  }
  return minutes;
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
