import { formatAge, formatDuration, plural, printable } from '../../report/format.js';
import { table } from '../../report/render-text.js';
import { expectStatus, resolveWorkerApi, type WorkerApiTarget } from './api-client.js';
import type { WorkersApiOptions } from './health.js';
import {
  backlog,
  depthLine,
  type QueueDepth,
  reportingFailures,
  statusLabel,
  type WorkerStatus,
} from './output.js';

interface MetricsBody {
  queue_depth: number;
  queue_depth_by_site: QueueDepth;
  task_failure_count: number;
  average_task_latency_ms: number | null;
  latency_sample_size: number;
  workers: {
    worker_id: string;
    site: string;
    status: WorkerStatus;
    heartbeat_freshness_ms: number;
    offline_backlog: { files: number; bytes: number };
  }[];
  stuck_tasks: {
    task_id: string;
    site: string;
    claimed_by?: string;
    executing_since: string;
    age_ms: number;
    result_key: string | null;
  }[];
}

/**
 * `runlane workers metrics`: queue depth, task failures, average task latency, heartbeat
 * freshness and offline backlog per worker, and the tasks stuck in executing (GET /api/workers/metrics).
 *
 * @example
 * process.exitCode = await runWorkersMetrics({ apiUrl: 'http://127.0.0.1:3000', json: true });
 */
export function runWorkersMetrics(options: WorkersApiOptions): Promise<number> {
  return reportingFailures(async () => {
    const api = await resolveWorkerApi(options);
    const path = '/api/workers/metrics';
    const answer = await api.request('GET', path);
    expectStatus(api, answer, path, 200);
    const body = answer.body as MetricsBody;
    console.log(options.json ? JSON.stringify(body, null, 2) : renderMetrics(api, body).join('\n'));
    return 0;
  });
}

function renderMetrics(api: WorkerApiTarget, body: MetricsBody): string[] {
  const backlogFiles = body.workers.reduce((sum, worker) => sum + worker.offline_backlog.files, 0);
  const lines = [
    `Worker metrics (${api.description}) at ${new Date().toISOString()}`,
    ...table(undefined, [
      ['queue depth', depthLine(body.queue_depth_by_site, body.queue_depth)],
      ['task failures', String(body.task_failure_count)],
      [
        'average task latency',
        body.average_task_latency_ms === null
          ? 'no finished task yet'
          : `${formatDuration(body.average_task_latency_ms)} (queued → result, newest ${plural(body.latency_sample_size, 'finished task')})`,
      ],
      ['offline backlog', `${plural(backlogFiles, 'result envelope')} waiting in workers' spools`],
      ['stuck in executing', String(body.stuck_tasks.length)],
    ]).map((line) => `  ${line}`),
  ];
  if (body.workers.length > 0) {
    lines.push(
      ...table(
        ['WORKER', 'SITE', 'STATUS', 'HEARTBEAT FRESHNESS', 'OFFLINE BACKLOG'],
        body.workers.map((worker) => [
          printable(worker.worker_id),
          worker.site,
          statusLabel(worker.status),
          formatAge(worker.heartbeat_freshness_ms),
          backlog(worker.offline_backlog),
        ]),
        ['left', 'left', 'left', 'right', 'right'],
      ),
    );
  }
  if (body.stuck_tasks.length > 0)
    lines.push('Stuck tasks (details: npx runlane tasks stuck):', ...stuckTable(body));
  return lines;
}

function stuckTable(body: MetricsBody): string[] {
  return table(
    ['TASK', 'SITE', 'CLAIMED BY', 'EXECUTING SINCE', 'AGE', 'RESULT KEY'],
    body.stuck_tasks.map((task) => [
      task.task_id,
      task.site,
      printable(task.claimed_by ?? '-'),
      task.executing_since,
      formatAge(task.age_ms),
      task.result_key ?? 'none',
    ]),
    ['left', 'left', 'left', 'left', 'right'],
  ).map((line) => `  ${line}`);
}
