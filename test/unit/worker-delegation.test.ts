import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { ProposedAction } from '#contracts/lifecycle.js';
import { agentApprovalDecided } from '#core/commands/agent-approval-decided.js';
import type { ApprovalRequest, WorkerDelegationPorts } from '#core/commands/ports.js';
import { deriveProposals } from '#core/commands/proposals.js';
import { DEFAULT_COMMAND_SETTINGS } from '#core/commands/types.js';
import {
  actionForTaskInput,
  delegateApprovedAction,
  onlineWorkersOf,
  workerEligibility,
  workerTaskIdFor,
} from '#core/workers/delegation.js';
import { anEnvelope } from '../support/factories.js';
import {
  aRegistryEntry,
  InMemoryDelegationFlag,
  InMemoryWorkerRegistry,
  InMemoryWorkerTaskQueue,
  InMemoryWorkerTaskStore,
} from '../support/worker-fixtures.js';

const NOW = new Date('2026-01-01T00:00:10.000Z');

function anAction(action: string, parameters: Record<string, string | number>): ProposedAction {
  return { action, impact: 'high', summary: action, parameters };
}

function ports(options: { enabled: boolean; online?: boolean; site?: string } = { enabled: true }) {
  const tasks = new InMemoryWorkerTaskStore();
  const queue = new InMemoryWorkerTaskQueue();
  const flag = new InMemoryDelegationFlag(options.enabled);
  const registry = new InMemoryWorkerRegistry(
    options.online === false
      ? []
      : [aRegistryEntry({ site: options.site ?? 'lab', lastSeen: '2026-01-01T00:00:00.000Z' })],
  );
  const delegation: WorkerDelegationPorts = {
    environment: 'test',
    tasks,
    queue,
    registry,
    flag,
    staleMultiple: 3,
  };
  return { tasks, queue, flag, registry, delegation };
}

function aRequest(action: ProposedAction, commandId = randomUUID()) {
  return {
    commandId,
    correlationId: `agent:hh-1:conv-1:${commandId}`,
    householdId: 'hh-1',
    approvalId: 'apr-0123456789abcdef01234567',
    action,
    now: NOW,
  };
}

describe('workerEligibility (the one place that says which actions a worker runs)', () => {
  it('leaves an action that names no site to the control plane', () => {
    expect(workerEligibility(anAction('transfer_funds', { amount: 5 }))).toEqual({
      outcome: 'not_worker_action',
    });
  });

  it('maps collect_facts, run_script and any other action with a site to its task kind', () => {
    expect(workerEligibility(anAction('collect_facts', { site: 'lab' }))).toEqual({
      outcome: 'eligible',
      site: 'lab',
      input: { kind: 'collect_facts' },
    });
    expect(
      workerEligibility(anAction('collect_facts', { site: 'lab', facts: 'hostname, cpus' })),
    ).toMatchObject({
      input: { kind: 'collect_facts', facts: ['hostname', 'cpus'] },
    });
    expect(workerEligibility(anAction('run_script', { site: 'lab', script: 'disk-report' }))).toEqual({
      outcome: 'eligible',
      site: 'lab',
      input: { kind: 'execute_script', script: 'disk-report', args: [] },
    });
    expect(
      workerEligibility(anAction('restart_service', { site: 'edge-2', service: 'nginx', force: 1 })),
    ).toEqual({
      outcome: 'eligible',
      site: 'edge-2',
      input: {
        kind: 'execute_action',
        plugin: 'restart_service',
        parameters: { service: 'nginx', force: 1 },
      },
    });
  });

  it('maps run_plugin to an execute_action task of the named plugin; a message proposes it', () => {
    expect(
      workerEligibility(anAction('run_plugin', { site: 'lab', plugin: 'disk_usage', path: '/var' })),
    ).toEqual({
      outcome: 'eligible',
      site: 'lab',
      input: { kind: 'execute_action', plugin: 'disk_usage', parameters: { path: '/var' } },
    });
    expect(workerEligibility(anAction('run_plugin', { site: 'lab' }))).toMatchObject({
      outcome: 'invalid',
      fieldPath: 'parameters.plugin',
    });
    const proposed = deriveProposals('please run plugin disk_usage on site Lab, collect facts on edge-2');
    expect(proposed.map((p) => [p.action, p.impact, p.parameters])).toEqual([
      ['collect_facts', 'high', { site: 'edge-2' }],
      ['run_plugin', 'high', { plugin: 'disk_usage', site: 'lab' }],
    ]);
  });

  it('calls a worker action that cannot become a task invalid, naming the parameter', () => {
    expect(workerEligibility(anAction('collect_facts', { site: 'Lab Site' }))).toMatchObject({
      outcome: 'invalid',
      fieldPath: 'parameters.site',
    });
    expect(workerEligibility(anAction('run_script', { site: 'lab' }))).toMatchObject({
      outcome: 'invalid',
      fieldPath: 'parameters.script',
    });
    expect(
      workerEligibility(anAction('collect_facts', { site: 'lab', facts: 'hostname,secrets' })),
    ).toMatchObject({
      outcome: 'invalid',
      fieldPath: 'parameters.facts',
    });
  });

  it('names the action a task carries out, the inverse of the mapping', () => {
    for (const action of [
      anAction('collect_facts', { site: 'lab' }),
      anAction('run_script', { site: 'lab', script: 's' }),
      anAction('restart_service', { site: 'lab' }),
    ]) {
      const eligibility = workerEligibility(action);
      if (eligibility.outcome !== 'eligible') throw new Error('expected eligible');
      expect(actionForTaskInput(eligibility.input)).toBe(action.action);
    }
  });

  it('derives one task id per command and approval', () => {
    const id = workerTaskIdFor('c-1', 'apr-1');
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(workerTaskIdFor('c-1', 'apr-1')).toBe(id);
    expect(workerTaskIdFor('c-2', 'apr-1')).not.toBe(id);
  });
});

describe('proposals that target a worker', () => {
  it('turns "collect facts on <site>" and "run script <name> on <site>" into high-impact worker actions', () => {
    expect(deriveProposals('please collect facts on site Lab-1')).toEqual([
      {
        action: 'collect_facts',
        impact: 'high',
        summary: 'collect host facts on site lab-1',
        parameters: { site: 'lab-1' },
      },
    ]);
    expect(deriveProposals('run script disk-report on edge')).toEqual([
      {
        action: 'run_script',
        impact: 'high',
        summary: 'run script disk-report on site edge',
        parameters: { script: 'disk-report', site: 'edge' },
      },
    ]);
  });
});

describe('delegateApprovedAction', () => {
  it('runs an action that names no site in-process without reading the flag', async () => {
    const { delegation, flag } = ports({ enabled: true });
    const decision = await delegateApprovedAction(
      delegation,
      aRequest(anAction('transfer_funds', { amount: 1 })),
    );
    expect(decision).toEqual({ outcome: 'in_process', reason: 'not_worker_action' });
    expect(flag.reads).toBe(0);
  });

  it('runs a worker action in-process while delegation is off', async () => {
    const { delegation, queue, tasks } = ports({ enabled: false });
    const decision = await delegateApprovedAction(
      delegation,
      aRequest(anAction('collect_facts', { site: 'lab' })),
    );
    expect(decision).toEqual({ outcome: 'in_process', reason: 'delegation_disabled' });
    expect(queue.sent).toEqual([]);
    expect(tasks.tasks.size).toBe(0);
  });

  it('fails closed when no worker of the site is online (none, another site, or a stale heartbeat)', async () => {
    for (const setup of [ports({ enabled: true, online: false }), ports({ enabled: true, site: 'other' })]) {
      const decision = await delegateApprovedAction(
        setup.delegation,
        aRequest(anAction('collect_facts', { site: 'lab' })),
      );
      expect(decision).toEqual({ outcome: 'no_worker_online', site: 'lab' });
      expect(setup.queue.sent).toEqual([]);
    }
    const stale = ports({ enabled: true });
    const later = {
      ...aRequest(anAction('collect_facts', { site: 'lab' })),
      now: new Date('2026-01-01T00:01:31.000Z'),
    };
    expect(await delegateApprovedAction(stale.delegation, later)).toEqual({
      outcome: 'no_worker_online',
      site: 'lab',
    });
  });

  it('writes the queued task, then sends its message to the site lane', async () => {
    const { delegation, queue, tasks } = ports({ enabled: true });
    const request = aRequest(anAction('run_script', { site: 'lab', script: 'disk-report' }));
    const decision = await delegateApprovedAction(delegation, request);
    expect(decision).toMatchObject({
      outcome: 'delegated',
      sent: true,
      task: { status: 'queued', site: 'lab' },
    });
    const taskId = workerTaskIdFor(request.commandId, request.approvalId);
    expect(queue.sent).toEqual([
      {
        schemaVersion: 1,
        taskId,
        attempt: 1,
        environment: 'test',
        site: 'lab',
        input: { kind: 'execute_script', script: 'disk-report', args: [] },
        commandId: request.commandId,
        correlationId: request.correlationId,
        householdId: 'hh-1',
        approvalId: request.approvalId,
        queuedAt: NOW.toISOString(),
        timeoutMs: 300_000,
      },
    ]);
    expect(tasks.tasks.get(taskId)?.status).toBe('queued');
  });

  it('on a retry, writes nothing new: resends while still queued, sends nothing once claimed', async () => {
    const { delegation, queue, tasks } = ports({ enabled: true });
    const request = aRequest(anAction('collect_facts', { site: 'lab' }));
    await delegateApprovedAction(delegation, request);
    await delegateApprovedAction(delegation, request);
    expect(tasks.creates).toBe(1);
    expect(queue.sent).toHaveLength(2);
    const taskId = workerTaskIdFor(request.commandId, request.approvalId);
    await tasks.claim({ taskId, workerId: 'worker-1', site: 'lab', now: NOW });
    expect(await delegateApprovedAction(delegation, request)).toMatchObject({
      outcome: 'delegated',
      sent: false,
    });
    expect(queue.sent).toHaveLength(2);
  });

  it('carries on a task an earlier attempt created even after the flag went off (never runs it twice)', async () => {
    const { delegation, flag } = ports({ enabled: true });
    const request = aRequest(anAction('collect_facts', { site: 'lab' }));
    await delegateApprovedAction(delegation, request);
    flag.state = { enabled: false };
    expect(await delegateApprovedAction(delegation, request)).toMatchObject({ outcome: 'delegated' });
  });

  it('refuses an invalid worker action only while delegation is on', async () => {
    const action = anAction('run_script', { site: 'lab' });
    expect(
      await delegateApprovedAction(ports({ enabled: false }).delegation, aRequest(action)),
    ).toMatchObject({
      outcome: 'in_process',
    });
    expect(await delegateApprovedAction(ports({ enabled: true }).delegation, aRequest(action))).toMatchObject(
      {
        outcome: 'invalid',
        fieldPath: 'parameters.script',
      },
    );
  });
});

describe('agent.approval.decided with delegation', () => {
  function approvedDeps(action: ProposedAction, delegation: WorkerDelegationPorts | undefined) {
    const executed: string[] = [];
    const approval: ApprovalRequest = {
      approvalId: 'apr-0123456789abcdef01234567',
      conversationId: 'conv-1',
      householdId: 'hh-1',
      requestedByCommandId: randomUUID(),
      correlationId: 'c',
      action,
      status: 'Approved',
    };
    return {
      executed,
      deps: {
        approvals: { decide: async () => ({ outcome: 'decided' as const, approval }) },
        actions: {
          execute: async (request: { idempotencyKey: string }) => {
            executed.push(request.idempotencyKey);
            return { executed: true };
          },
        },
        settings: DEFAULT_COMMAND_SETTINGS,
        ...(delegation ? { workers: delegation } : {}),
      },
    };
  }

  async function decide(action: ProposedAction, delegation: WorkerDelegationPorts | undefined) {
    const { deps, executed } = approvedDeps(action, delegation);
    const envelope = anEnvelope({
      commandType: 'agent.approval.decided',
      lane: 'runtime-agent-message-posted',
    });
    const outcome = await agentApprovalDecided.execute({
      envelope,
      payload: { approvalId: 'apr-0123456789abcdef01234567', decision: 'approve', decidedBy: 'alice' },
      attempt: 1,
      now: NOW,
      deps,
    });
    return { outcome, executed, envelope };
  }

  it('stays Running as action_delegated with the task and its result deadline instead of executing', async () => {
    const setup = ports({ enabled: true });
    const { outcome, executed, envelope } = await decide(anAction('collect_facts', { site: 'lab' }), {
      ...setup.delegation,
      resultDeadlineMs: 600_000,
    });
    const taskId = workerTaskIdFor(envelope.commandId, 'apr-0123456789abcdef01234567');
    expect(executed).toEqual([]);
    expect(outcome).toMatchObject({
      status: 'Running',
      outcomeCode: 'action_delegated',
      result: {
        approvalId: 'apr-0123456789abcdef01234567',
        action: 'collect_facts',
        taskId,
        site: 'lab',
        kind: 'collect_facts',
      },
      delegation: { taskId, site: 'lab', deadlineAt: '2026-01-01T00:10:10.000Z' },
    });
    // The deadline is kept with the task: a retried command gets the same one.
    expect(setup.tasks.tasks.get(taskId)?.deadlineAt).toBe('2026-01-01T00:10:10.000Z');
    const retried = await agentApprovalDecided.execute({
      envelope,
      payload: { approvalId: 'apr-0123456789abcdef01234567', decision: 'approve', decidedBy: 'alice' },
      attempt: 2,
      now: new Date(NOW.getTime() + 30_000),
      deps: approvedDeps(anAction('collect_facts', { site: 'lab' }), setup.delegation).deps,
    });
    expect(retried.delegation).toEqual({ taskId, site: 'lab', deadlineAt: '2026-01-01T00:10:10.000Z' });
  });

  it('takes the default one-hour result deadline when the ports name none', async () => {
    const { outcome } = await decide(
      anAction('collect_facts', { site: 'lab' }),
      ports({ enabled: true }).delegation,
    );
    expect(outcome.delegation?.deadlineAt).toBe('2026-01-01T01:00:10.000Z');
  });

  it('gives the final outcome at once when a retry finds the task already finished', async () => {
    for (const [status, expected] of [
      ['succeeded', { status: 'Completed', outcomeCode: 'worker_task_succeeded' }],
      [
        'failed',
        {
          status: 'NeedsReview',
          outcomeCode: 'worker_task_failed',
          signals: [{ type: 'worker_task_failed', RequiresHumanReview: true, code: 'worker_result_missing' }],
        },
      ],
    ] as const) {
      const setup = ports({ enabled: true });
      const first = await decide(anAction('collect_facts', { site: 'lab' }), setup.delegation);
      const taskId = first.outcome.delegation?.taskId ?? '';
      const task = setup.tasks.tasks.get(taskId);
      if (!task) throw new Error('no task');
      setup.tasks.tasks.set(taskId, {
        ...task,
        status,
        ...(status === 'failed' ? { errorCode: 'worker_result_missing' } : {}),
      });
      const again = await agentApprovalDecided.execute({
        envelope: first.envelope,
        payload: { approvalId: 'apr-0123456789abcdef01234567', decision: 'approve', decidedBy: 'alice' },
        attempt: 2,
        now: NOW,
        deps: approvedDeps(anAction('collect_facts', { site: 'lab' }), setup.delegation).deps,
      });
      expect(again).toMatchObject(expected);
      expect(again.delegation).toBeUndefined();
    }
  });

  it('goes to NeedsReview with no_worker_online when no worker of the site is online', async () => {
    const { outcome, executed } = await decide(
      anAction('collect_facts', { site: 'lab' }),
      ports({ enabled: true, online: false }).delegation,
    );
    expect(executed).toEqual([]);
    expect(outcome).toMatchObject({
      status: 'NeedsReview',
      outcomeCode: 'no_worker_online',
      signals: [{ type: 'no_worker_online', RequiresHumanReview: true }],
    });
  });

  it('goes to NeedsReview with worker_action_invalid for a worker action that is not a valid task', async () => {
    const { outcome } = await decide(
      anAction('run_script', { site: 'lab' }),
      ports({ enabled: true }).delegation,
    );
    expect(outcome).toMatchObject({
      status: 'NeedsReview',
      signals: [{ type: 'worker_action_invalid', RequiresHumanReview: true }],
    });
  });

  it('executes in-process as before when delegation is off, or without the worker ports', async () => {
    for (const delegation of [ports({ enabled: false }).delegation, undefined]) {
      const { outcome, executed } = await decide(anAction('collect_facts', { site: 'lab' }), delegation);
      expect(outcome).toMatchObject({ status: 'Completed', outcomeCode: 'action_executed' });
      expect(executed).toHaveLength(1);
    }
  });
});

describe('onlineWorkersOf', () => {
  it('leaves out stopped (deregistered) workers as well as offline ones', () => {
    const now = new Date('2026-01-01T00:01:00.000Z');
    const entries = [
      aRegistryEntry({ workerId: 'live', lastSeen: '2026-01-01T00:00:59.000Z', lastKind: 'heartbeat' }),
      aRegistryEntry({ workerId: 'back', lastSeen: '2026-01-01T00:00:59.000Z', lastKind: 'registration' }),
      aRegistryEntry({
        workerId: 'parked',
        lastSeen: '2026-01-01T00:00:59.000Z',
        lastKind: 'deregistration',
      }),
      aRegistryEntry({ workerId: 'lost', lastSeen: '2025-12-31T00:00:00.000Z' }),
      aRegistryEntry({ workerId: 'elsewhere', site: 'east', lastSeen: '2026-01-01T00:00:59.000Z' }),
    ];
    expect(onlineWorkersOf(entries, 'lab', now, 3).map((entry) => entry.workerId)).toEqual(['live', 'back']);
    expect(onlineWorkersOf(entries, undefined, now, 3)).toHaveLength(3);
  });
});
