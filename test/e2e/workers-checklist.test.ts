import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spoolFiles, type WorkerProcess } from '../agent/fixtures/worker-harness.js';
import { eventually, type RunView, startWorkerLocal, type WorkerLocal } from '../support/worker-local.js';
import { type ResultsProxy, startResultsProxy } from '../support/worker-local-proxy.js';

/**
 * Seed 004's "Phase 1 Completion Checklist", item by item, on the local stack as `npm start`
 * runs it, with real `runlane-agent worker` processes: `lab-1` talks to the local API directly,
 * `edge-1` through a proxy that can cut its results off (the outage of "Offline Mode").
 * Every task starts as a message (or an approval) through the API.
 */

const HEARTBEAT_STALE_MULTIPLE = 4;

describe('seed 004 Phase 1 Completion Checklist (local stack, real worker processes)', () => {
  let local: WorkerLocal;
  let proxy: ResultsProxy;
  let lab: WorkerProcess;
  let edge: WorkerProcess;

  beforeAll(async () => {
    local = await startWorkerLocal({
      workers: { sites: ['edge', 'lab'], heartbeatStaleMultiple: HEARTBEAT_STALE_MULTIPLE },
    });
    proxy = await startResultsProxy(local.stack.info.apiUrl);
    [lab, edge] = await Promise.all([
      local.startWorker('lab', 'lab-1'),
      local.startWorker('edge', 'edge-1', { apiUrl: proxy.url }),
    ]);
    const enabled = await local.call('PUT', '/api/workers/delegation', { enabled: true, changed_by: 'e2e' });
    expect(enabled).toMatchObject({ status: 200, body: { enabled: true, online_workers: 2 } });
  }, 60_000);
  afterAll(async () => {
    await local?.stop();
    await proxy?.stop();
  });

  /** The run once its worker's result is reconciled into it. */
  const reconciled = (run: RunView, timeoutMs?: number) => local.waitForResult(run.commandId, timeoutMs);
  const stagesOf = (run: RunView) => run.stages.map((stage) => [stage.name, stage.outcomeCode]);
  const eventsOf = (worker: WorkerProcess, name: string, taskId?: string) =>
    worker.events().filter((e) => e.event === name && (taskId === undefined || e.task_id === taskId));

  it('Plugins execute through registry', async () => {
    // An approved action named like a plugin, for a site: an execute_action task of that plugin.
    const [echo, unknown] = await Promise.all([
      local.approveAction('echo', { site: 'lab', greeting: 'hello' }),
      local.approveAction('reboot', { site: 'lab', when: 'now' }),
    ]);
    for (const run of [echo, unknown]) {
      // (A fast worker may have reconciled its result already: look at the approval's own stage.)
      expect(run.stages[0]).toMatchObject({ name: 'execute', outcomeCode: 'action_delegated' });
      expect(run.result).toMatchObject({ kind: 'execute_action', site: 'lab' });
    }
    const [echoDone, unknownDone] = await Promise.all([reconciled(echo), reconciled(unknown)]);

    // A registered, enabled plugin runs and its output comes back.
    expect(echoDone.status).toBe('Completed');
    expect(stagesOf(echoDone)).toEqual([
      ['execute', 'action_delegated'],
      ['delegated', 'worker_task_succeeded'],
    ]);
    const echoTask = echo.result?.taskId as string;
    expect((await local.storedResult(echoTask, 'execution_result'))?.payload).toMatchObject({
      status: 'succeeded',
      output: { greeting: 'hello' },
    });
    // A plugin the registry does not have is refused by the worker, never run: fail closed.
    expect(unknownDone.status).toBe('NeedsReview');
    expect(unknownDone.signals).toContainEqual(
      expect.objectContaining({ type: 'worker_task_failed', code: 'plugin_not_registered' }),
    );
    const unknownTask = unknown.result?.taskId as string;
    expect(await local.tasks.get(unknownTask)).toMatchObject({
      status: 'failed',
      errorCode: 'plugin_not_registered',
    });
    expect(eventsOf(lab, 'task_finished', unknownTask)).toEqual([
      expect.objectContaining({ status: 'failed', error_code: 'plugin_not_registered' }),
    ]);
  });

  it('Worker receives and processes queued tasks', async () => {
    const household = 'hh-queued';
    // One task of each kind: message → approval → delegated task → claim → execute → result → reconciled.
    const runs = await Promise.all([
      local.approveMessage('please collect facts on site lab', household),
      local.approveMessage('run script hello on lab', household),
      local.approveMessage('run plugin disk_usage on site lab', household),
    ]);
    expect(runs.map((run) => run.result?.kind)).toEqual([
      'collect_facts',
      'execute_script',
      'execute_action',
    ]);
    const done = await Promise.all(runs.map((run) => reconciled(run)));
    const history = await local.actions.history(household);
    for (const [index, run] of done.entries()) {
      const taskId = runs[index]?.result?.taskId as string;
      expect(run.status).toBe('Completed');
      expect(stagesOf(run)).toEqual([
        ['execute', 'action_delegated'],
        ['delegated', 'worker_task_succeeded'],
      ]);
      expect(run.result).toMatchObject({ taskId, taskStatus: 'succeeded' });
      expect(await local.tasks.get(taskId)).toMatchObject({
        status: 'succeeded',
        claimedBy: 'lab-1',
        resultKey: `${taskId}#1#execution_result`,
      });
      expect(history.filter((entry) => entry.commandId === run.commandId)).toEqual([
        expect.objectContaining({
          worker: expect.objectContaining({ taskId, workerId: 'lab-1', site: 'lab', status: 'succeeded' }),
        }),
      ]);
      // The message goes once the result is acknowledged (just after the run was reconciled).
      await eventually(
        () => eventsOf(lab, 'message_deleted', taskId),
        (deleted) => deleted.length === 1,
        `task ${taskId}'s message deleted`,
      );
    }
    const [factsTask, scriptTask] = runs.map((run) => run.result?.taskId as string);
    expect((await local.storedResult(factsTask ?? '', 'facts'))?.payload).toHaveProperty('hostname');
    const script = await local.storedResult(scriptTask ?? '', 'execution_result');
    expect(script?.payload).toMatchObject({
      status: 'succeeded',
      exitCode: 0,
      stdout: `hello from ${scriptTask}\n`,
      scriptSha256: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    expect(eventsOf(lab, 'script_executed', scriptTask)).toHaveLength(1);
  });

  it('Worker registration + heartbeat available', async () => {
    const workerOf = async (workerId: string) =>
      (await local.health()).workers.find((worker) => worker.worker_id === workerId);
    const online = await workerOf('lab-1');
    expect(online).toMatchObject({
      site: 'lab',
      status: 'online',
      interval_ms: 1_000,
      registered_at: expect.any(String),
    });
    expect(Date.now() - Date.parse(online?.last_seen ?? '')).toBeLessThan(HEARTBEAT_STALE_MULTIPLE * 1_000);

    // Heartbeats stop: offline once last_seen is older than the stale multiple × the interval.
    lab.child.kill('SIGSTOP');
    const stoppedAt = Date.now();
    try {
      const offline = await eventually(
        () => workerOf('lab-1'),
        (worker) => worker?.status === 'offline',
        'lab-1 offline',
        15_000,
      );
      // Offline by the rule: no heartbeat for longer than the stale multiple × the interval.
      expect(offline?.heartbeat_age_ms).toBeGreaterThan(HEARTBEAT_STALE_MULTIPLE * 1_000);
      expect(Date.parse(offline?.last_seen ?? '')).toBeLessThanOrEqual(stoppedAt);
      // The scheduled worker sweep (its local stand-in) counts it too: WorkersOffline.
      const sweep = await local.call('POST', '/_local/worker-sweep');
      expect(sweep.body).toMatchObject({
        counts: { workers: 2, online: 1, offline: 1 },
        offline: [expect.objectContaining({ workerId: 'lab-1' })],
      });
      const cli = await local.runlane('workers', 'health');
      expect(cli.status).toBe(1);
      const row = cli.stdout.split('\n').find((line) => line.startsWith('lab-1'));
      expect(row?.split(/\s{2,}/).slice(0, 5)).toEqual([
        'lab-1',
        'lab',
        expect.any(String),
        'OFFLINE',
        offline?.last_seen,
      ]);
      expect(cli.stdout).toContain('OFFLINE: lab-1');
    } finally {
      lab.child.kill('SIGCONT');
    }
    await eventually(
      () => workerOf('lab-1'),
      (worker) => worker?.status === 'online',
      'lab-1 online again',
    );
  });

  it('Offline buffering stores and replays results', async () => {
    const spool = join(local.dir, 'spool-edge-1');
    proxy.setResults('down');
    const runs = await Promise.all([
      local.approveMessage('collect facts on site edge'),
      local.approveMessage('run script hello on edge'),
      local.approveMessage('collect host facts from edge'),
    ]);
    const taskIds = runs.map((run) => run.result?.taskId as string);
    // facts + execution_result, execution_result, facts + execution_result
    await edge.waitForEvents('result_spooled', 5, 20_000);
    const files = await spoolFiles(spool);
    expect(files).toHaveLength(5);
    const named = files.map((file) => /^(facts|execution_result)-(\d{13})-(.+)\.json$/.exec(file));
    expect(named.every((match) => match !== null && taskIds.includes(match[3] ?? ''))).toBe(true);
    expect(named.map((match) => match?.[1]).sort()).toEqual([
      'execution_result',
      'execution_result',
      'execution_result',
      'facts',
      'facts',
    ]);
    const timestampOf = new Map(named.map((match) => [`${match?.[1]}#${match?.[3]}`, Number(match?.[2])]));
    // Nothing reached the control plane: the tasks are still executing, the runs not reconciled.
    const executing = await Promise.all(taskIds.map((taskId) => local.tasks.get(taskId)));
    expect(executing.map((task) => task?.status)).toEqual(['executing', 'executing', 'executing']);
    // The worker reports what waits in its spool with every heartbeat (the seed's offline backlog).
    await eventually(
      () => local.metrics(),
      (metrics) => metrics.workers.some((w) => w.worker_id === 'edge-1' && w.offline_backlog.files === 5),
      'edge-1 reporting 5 spooled envelopes',
    );
    expect((await local.stack.sweepWorkersNow()).counts).toMatchObject({
      executing: 3,
      offlineBacklogFiles: 5,
    });
    // Runbook "Tasks stuck in executing": no matching result key, the results are in the worker's spool.
    // (--minutes 0.01 is 600 ms: let every claim be older than that first.)
    const newestClaim = Math.max(...executing.map((task) => Date.parse(task?.claimedAt ?? '')));
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, newestClaim + 1_000 - Date.now())));
    const stuck = await local.runlane('tasks', 'stuck', '--minutes', '0.01', '--json');
    expect(stuck.status).toBe(1);
    const report = JSON.parse(stuck.stdout) as { stuck_tasks: Record<string, unknown>[] };
    expect(report.stuck_tasks.map((task) => task.task_id).sort()).toEqual([...taskIds].sort());
    for (const task of report.stuck_tasks) {
      expect(task).toMatchObject({ site: 'edge', claimed_by: 'edge-1', result_key: null });
    }

    // Back up: the first replayed envelope is held in flight — its file is still there until the ack.
    proxy.setResults('hold');
    await eventually(
      () => proxy.held(),
      (held) => held >= 1,
      'a replayed result in flight',
      10_000,
    );
    expect(await spoolFiles(spool)).toEqual(files);
    const before = proxy.forwarded.length;
    proxy.release();
    await eventually(
      () => spoolFiles(spool),
      (left) => left.length === 0,
      'an empty spool',
      15_000,
    );

    // Replayed newest first, each acknowledged (2xx).
    const replayed = proxy.forwarded.slice(before);
    expect(replayed.every((result) => result.status === 202)).toBe(true);
    const firstSeen = [...new Set(replayed.map((result) => `${result.payloadType}#${result.taskId}`))];
    expect(firstSeen.sort()).toEqual([...timestampOf.keys()].sort());
    const order = [...new Set(replayed.map((result) => `${result.payloadType}#${result.taskId}`))].map(
      (key) => timestampOf.get(key) ?? 0,
    );
    expect(order).toEqual([...order].sort((a, b) => b - a));
    const reconciledByReplay = replayed.filter(
      (result) => (result.body as { reconciled?: boolean }).reconciled,
    );
    expect(reconciledByReplay.map((result) => result.taskId).sort()).toEqual([...taskIds].sort());
    expect(eventsOf(edge, 'result_replayed').length).toBeGreaterThanOrEqual(5);

    // Each result reconciled once: the delegated stage closed once, one action history entry, task succeeded.
    for (const [index, run] of runs.entries()) {
      const done = await reconciled(run);
      expect(stagesOf(done)).toEqual([
        ['execute', 'action_delegated'],
        ['delegated', 'worker_task_succeeded'],
      ]);
      expect(done.status).toBe('Completed');
      expect((await local.tasks.get(taskIds[index] ?? ''))?.status).toBe('succeeded');
      const householdId = (await local.tasks.get(taskIds[index] ?? ''))?.message.householdId ?? '';
      expect(await local.actions.history(householdId)).toHaveLength(1);
    }
  });

  it('Operators can inspect queue/worker health with metrics', async () => {
    // From a clean state: edge-1's spool empty.
    proxy.release();
    await eventually(
      () => spoolFiles(join(local.dir, 'spool-edge-1')),
      (left) => left.length === 0,
      'an empty spool',
    );
    // A failure first: a script the host does not allow.
    const refused = await reconciled(await local.approveMessage('run script nope on lab'));
    expect(refused.status).toBe('NeedsReview');
    // lab-1 busy with a long task (its message in flight), another task waiting behind it, and
    // edge-1 cut off from the control plane with a result in its spool.
    proxy.setResults('down');
    const slow = await local.approveMessage('run script slow on lab');
    const slowTask = slow.result?.taskId as string;
    await eventually(
      () => eventsOf(lab, 'task_claimed', slowTask),
      (e) => e.length === 1,
      'the slow task claimed',
    );
    const waiting = await local.approveMessage('run script hello on lab');
    const edgeSpooled = eventsOf(edge, 'result_spooled').length;
    const cutOff = await local.approveMessage('collect facts on site edge');
    await edge.waitForEvents('result_spooled', edgeSpooled + 2, 15_000);
    await eventually(
      () => local.health(),
      (health) =>
        health.queue.total === 2 &&
        health.workers.some((w) => w.worker_id === 'lab-1' && w.executing === 1) &&
        health.workers.some((w) => w.worker_id === 'edge-1' && w.offline_backlog.files === 2),
      'health showing the busy lane and the backlog',
    );

    const [health, metrics, metricsJson] = await Promise.all([
      local.runlane('workers', 'health'),
      local.runlane('workers', 'metrics'),
      local.runlane('workers', 'metrics', '--json'),
    ]);
    expect(health.status).toBe(0);
    expect(health.stdout).toContain('2 workers, 2 online, 0 offline; delegation on');
    expect(health.stdout).toContain(
      'Queue depth: 2 (edge 0 visible / 0 in flight, lab 1 visible / 1 in flight)',
    );
    const rows = health.stdout.split('\n');
    expect(rows.find((line) => line.startsWith('WORKER'))?.split(/\s{2,}/)).toEqual([
      'WORKER',
      'SITE',
      'HOST',
      'STATUS',
      'LAST SEEN',
      'AGE',
      'INTERVAL',
      'EXECUTING',
      'BACKLOG',
      'VERSION',
    ]);
    const cells = (id: string) => rows.find((line) => line.startsWith(id))?.split(/\s{2,}/) ?? [];
    expect(cells('lab-1').slice(3)).toEqual([
      'online',
      expect.any(String),
      expect.stringMatching(/^\ds$/),
      '1 s',
      '1',
      '0 (0 B)',
      expect.any(String),
    ]);
    expect(cells('edge-1')[8]).toMatch(/^2 \(\d+ B\)$/);

    expect(metrics.status).toBe(0);
    expect(metrics.stdout).toMatch(
      /queue depth\s+2 \(edge 0 visible \/ 0 in flight, lab 1 visible \/ 1 in flight\)/,
    );
    expect(metrics.stdout).toMatch(/task failures\s+[1-9]\d*/);
    expect(metrics.stdout).toMatch(
      /average task latency\s+[\d.]+ (ms|s) \(queued → result, newest \d+ finished tasks\)/,
    );
    expect(metrics.stdout).toMatch(/offline backlog\s+2 result envelopes waiting/);
    expect(metrics.stdout).toContain('HEARTBEAT FRESHNESS');

    const figures = JSON.parse(metricsJson.stdout);
    expect(figures).toMatchObject({
      queue_depth: 2,
      queue_depth_by_site: { edge: { visible: 0, inFlight: 0 }, lab: { visible: 1, inFlight: 1 } },
      task_failure_count: expect.any(Number),
      average_task_latency_ms: expect.any(Number),
      stuck_tasks: [],
    });
    expect(figures.task_failure_count).toBeGreaterThanOrEqual(2);
    expect(figures.average_task_latency_ms).toBeGreaterThan(0);
    expect(figures.latency_sample_size).toBeGreaterThanOrEqual(8);
    for (const worker of figures.workers) {
      expect(worker.status).toBe('online');
      expect(worker.heartbeat_freshness_ms).toBeLessThan(HEARTBEAT_STALE_MULTIPLE * 1_000);
    }
    expect(
      figures.workers.find((w: { worker_id: string }) => w.worker_id === 'edge-1').offline_backlog.files,
    ).toBe(2);

    proxy.setResults('pass');
    await local.releaseSlowScripts();
    const done = await Promise.all([slow, waiting, cutOff].map((run) => reconciled(run, 30_000)));
    expect(done.map((run) => run.status)).toEqual(['Completed', 'Completed', 'Completed']);
  });
});
