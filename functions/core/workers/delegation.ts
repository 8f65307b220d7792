import type { ProposedAction } from '#contracts/lifecycle.js';
import {
  type WorkerTaskInput,
  type WorkerTaskMessage,
  workerSiteSchema,
  workerStatus,
  workerTaskInputSchema,
} from '#contracts/worker-contract.js';
import type { WorkerDelegationPorts } from '../commands/ports.js';
import { uuidFromSeed } from '../replay/uuid-from-seed.js';
import type { WorkerRegistryEntry, WorkerTaskRecord } from './ports.js';
import { DEFAULT_RESULT_DEADLINE_SECONDS } from './settings.js';

/**
 * Which approved actions a worker carries out (seed 004 "target is worker-eligible"), decided
 * here and nowhere else:
 *
 * - an action is a **worker action** when its parameters name a `site`; any other action runs
 *   in-process, as before delegation existed;
 * - `collect_facts` becomes a `collect_facts` task (optional `facts`: comma-separated names);
 * - `run_script` becomes an `execute_script` task of the allowlisted `script` (no arguments);
 * - `run_plugin` becomes an `execute_action` task of the registered `plugin`, with the remaining
 *   parameters (the message "run plugin disk_usage on site lab" proposes it);
 * - any other action becomes an `execute_action` task of the plugin named like the action, with
 *   the remaining parameters.
 *
 * A worker action whose parameters do not make a valid task (a malformed site, no script…) is
 * `invalid`: with delegation on, it fails closed to NeedsReview rather than run in-process.
 */
export const WORKER_SITE_PARAMETER = 'site';
export const COLLECT_FACTS_ACTION = 'collect_facts';
export const RUN_SCRIPT_ACTION = 'run_script';
export const RUN_PLUGIN_ACTION = 'run_plugin';

export type WorkerEligibility =
  | { readonly outcome: 'not_worker_action' }
  | { readonly outcome: 'invalid'; readonly fieldPath: string; readonly rationale: string }
  | { readonly outcome: 'eligible'; readonly site: string; readonly input: WorkerTaskInput };

/**
 * @example
 * workerEligibility({ action: 'collect_facts', impact: 'high', summary: 's', parameters: { site: 'lab' } });
 * // { outcome: 'eligible', site: 'lab', input: { kind: 'collect_facts' } }
 */
export function workerEligibility(action: ProposedAction): WorkerEligibility {
  const { [WORKER_SITE_PARAMETER]: site, ...rest } = action.parameters;
  if (site === undefined) return { outcome: 'not_worker_action' };
  const siteCheck = workerSiteSchema.safeParse(site);
  if (!siteCheck.success) {
    return {
      outcome: 'invalid',
      fieldPath: `parameters.${WORKER_SITE_PARAMETER}`,
      rationale: `site ${JSON.stringify(site)} ${siteCheck.error.issues[0]?.message ?? 'is malformed'}`,
    };
  }
  const candidate = taskInputFor(action.action, rest);
  const parsed = workerTaskInputSchema.safeParse(candidate);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = (issue?.path ?? []).map(String).filter((p) => p !== 'kind');
    return {
      outcome: 'invalid',
      fieldPath: ['parameters', ...inputPathToParameter(action.action, path)].join('.'),
      rationale: `${action.action} cannot become a worker task: ${issue?.message ?? 'invalid'}`,
    };
  }
  return { outcome: 'eligible', site: siteCheck.data, input: parsed.data };
}

function taskInputFor(action: string, parameters: Readonly<Record<string, string | number>>): unknown {
  if (action === COLLECT_FACTS_ACTION) {
    const facts = parameters.facts;
    return {
      kind: 'collect_facts',
      ...(facts === undefined
        ? {}
        : {
            facts: String(facts)
              .split(',')
              .map((f) => f.trim())
              .filter((f) => f !== ''),
          }),
    };
  }
  if (action === RUN_SCRIPT_ACTION) {
    return { kind: 'execute_script', script: parameters.script, args: [] };
  }
  if (action === RUN_PLUGIN_ACTION) {
    const { plugin, ...pluginParameters } = parameters;
    return { kind: 'execute_action', plugin, parameters: pluginParameters };
  }
  return { kind: 'execute_action', plugin: action, parameters };
}

function inputPathToParameter(action: string, path: readonly string[]): string[] {
  // execute_action: input.parameters.<name> is the action's parameter <name>; input.plugin is the
  // action's name, or run_plugin's `plugin` parameter.
  if (path[0] === 'parameters') return path.slice(1);
  if (path[0] === 'plugin') return action === RUN_PLUGIN_ACTION ? ['plugin'] : ['action'];
  return path.slice(0, 1);
}

/**
 * The action name a task carries out (the inverse of {@link workerEligibility}), for the action
 * history written when its result is reconciled.
 */
export function actionForTaskInput(input: WorkerTaskInput): string {
  switch (input.kind) {
    case 'collect_facts':
      return COLLECT_FACTS_ACTION;
    case 'execute_script':
      return RUN_SCRIPT_ACTION;
    case 'execute_action':
      return input.plugin;
  }
}

/** The task id of an approved action: derived, so a retried command delegates the same task. */
export function workerTaskIdFor(commandId: string, approvalId: string): string {
  return uuidFromSeed(`worker-task:${commandId}:${approvalId}`);
}

/** Workers of `site` that are online at `now` (neither offline nor stopped by a deregistration). */
export function onlineWorkersOf(
  entries: readonly WorkerRegistryEntry[],
  site: string | undefined,
  now: Date,
  staleMultiple: number,
): WorkerRegistryEntry[] {
  return entries.filter(
    (entry) =>
      (site === undefined || entry.site === site) && workerStatus(entry, now, staleMultiple) === 'online',
  );
}

export type DelegationDecision =
  /** Run the action in-process, as without delegation. */
  | { readonly outcome: 'in_process'; readonly reason: 'not_worker_action' | 'delegation_disabled' }
  | { readonly outcome: 'invalid'; readonly fieldPath: string; readonly rationale: string }
  | { readonly outcome: 'no_worker_online'; readonly site: string }
  /** The task is queued (or was, by an earlier attempt of this command). `sent`: a message went out now. */
  | { readonly outcome: 'delegated'; readonly task: WorkerTaskRecord; readonly sent: boolean };

export interface DelegationRequest {
  readonly commandId: string;
  readonly correlationId: string;
  readonly householdId: string;
  readonly approvalId: string;
  readonly action: ProposedAction;
  readonly now: Date;
}

/**
 * The delegation branch of an approved action (seed 004 "Delegated Execution Flow"): with
 * delegation on and a worker-eligible action, writes the `queued` task record (with the result's
 * deadline, `ports.resultDeadlineMs` from now), then sends the message to the site's lane. Fails closed (`no_worker_online`) when no worker of the site is
 * online. Safe to repeat for one command: the task id is derived from the command and approval,
 * the record is written once, and the message is sent again only while the task is still
 * `queued` (a duplicate message loses its claim).
 *
 * A task that already exists for the command is carried on even if the flag was switched off
 * since, so flipping the flag between two attempts never runs the action twice.
 *
 * @example
 * const decision = await delegateApprovedAction(ports, { commandId, correlationId, householdId, approvalId, action, now });
 * if (decision.outcome === 'delegated') console.log(decision.task.taskId);
 */
export async function delegateApprovedAction(
  ports: WorkerDelegationPorts,
  request: DelegationRequest,
): Promise<DelegationDecision> {
  const eligibility = workerEligibility(request.action);
  if (eligibility.outcome === 'not_worker_action')
    return { outcome: 'in_process', reason: 'not_worker_action' };
  const taskId = workerTaskIdFor(request.commandId, request.approvalId);
  const existing = await ports.tasks.get(taskId);
  if (existing) return resume(ports, existing);
  const flag = await ports.flag.get();
  if (!flag.enabled) return { outcome: 'in_process', reason: 'delegation_disabled' };
  if (eligibility.outcome === 'invalid') return eligibility;
  const online = onlineWorkersOf(
    await ports.registry.list(),
    eligibility.site,
    request.now,
    ports.staleMultiple,
  );
  if (online.length === 0) return { outcome: 'no_worker_online', site: eligibility.site };
  const message: WorkerTaskMessage = {
    schemaVersion: 1,
    taskId,
    attempt: 1,
    environment: ports.environment,
    site: eligibility.site,
    input: eligibility.input,
    commandId: request.commandId,
    correlationId: request.correlationId,
    householdId: request.householdId,
    approvalId: request.approvalId,
    queuedAt: request.now.toISOString(),
    timeoutMs: ports.taskTimeoutMs ?? DEFAULT_TASK_TIMEOUT_MS,
  };
  const deadlineAt = new Date(
    request.now.getTime() + (ports.resultDeadlineMs ?? DEFAULT_RESULT_DEADLINE_SECONDS * 1000),
  ).toISOString();
  return resume(ports, await ports.tasks.createQueued(message, request.now, { deadlineAt }));
}

/**
 * When the run of a delegated task stops waiting for its result: the deadline stored with the
 * task (fixed when it was queued, so a retried command keeps it), else — a task queued before
 * deadlines existed — `queuedAt` plus the configured deadline.
 */
export function resultDeadlineOf(task: WorkerTaskRecord, resultDeadlineMs?: number): string {
  return (
    task.deadlineAt ??
    new Date(
      Date.parse(task.queuedAt) + (resultDeadlineMs ?? DEFAULT_RESULT_DEADLINE_SECONDS * 1000),
    ).toISOString()
  );
}

/** The contract's default start deadline of a task. */
export const DEFAULT_TASK_TIMEOUT_MS = 300_000;

async function resume(ports: WorkerDelegationPorts, task: WorkerTaskRecord): Promise<DelegationDecision> {
  if (task.status !== 'queued') return { outcome: 'delegated', task, sent: false };
  await ports.queue.send(task.message);
  return { outcome: 'delegated', task, sent: true };
}
