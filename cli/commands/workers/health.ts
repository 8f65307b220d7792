import type { EnvironmentName } from '#lib/config/environment-config.js';
import { formatAge, formatDuration, plural, printable } from '../../report/format.js';
import { table } from '../../report/render-text.js';
import { expectStatus, resolveWorkerApi, type WorkerApiTarget } from './api-client.js';
import {
  backlog,
  depthLine,
  type QueueDepth,
  reportingFailures,
  statusLabel,
  type WorkerStatus,
} from './output.js';

/** The options of `runlane workers health` and `runlane workers metrics` (cli/definitions/workers.ts). */
export interface WorkersApiOptions {
  readonly apiUrl: string;
  readonly env?: EnvironmentName | undefined;
  readonly json?: boolean | undefined;
}

interface HealthWorker {
  worker_id: string;
  site: string;
  host: string;
  status: WorkerStatus;
  last_seen: string;
  heartbeat_age_ms: number;
  interval_ms: number;
  version: string;
  executing: number;
  offline_backlog: { files: number; bytes: number };
  stopped_at?: string;
}

interface HealthBody {
  workers: HealthWorker[];
  queue: { depth: QueueDepth; total: number };
  delegation: { enabled: boolean };
}

/**
 * `runlane workers health`: every worker with its heartbeat, the queue depth of each site's task
 * lane, whether delegation is on (GET /api/workers/health); exit 1 when a worker is offline.
 *
 * @example
 * process.exitCode = await runWorkersHealth({ apiUrl: 'http://127.0.0.1:3000' });
 */
export function runWorkersHealth(options: WorkersApiOptions): Promise<number> {
  return reportingFailures(async () => {
    const api = await resolveWorkerApi(options);
    const path = '/api/workers/health';
    const answer = await api.request('GET', path);
    expectStatus(api, answer, path, 200);
    const body = answer.body as HealthBody;
    const offline = body.workers.filter((worker) => worker.status === 'offline');
    console.log(options.json ? JSON.stringify(body, null, 2) : renderHealth(api, body).join('\n'));
    return offline.length > 0 ? 1 : 0;
  });
}

function renderHealth(api: WorkerApiTarget, body: HealthBody): string[] {
  const offline = body.workers.filter((worker) => worker.status === 'offline');
  const stopped = body.workers.filter((worker) => worker.status === 'stopped');
  const lines = [
    `Workers (${api.description}) at ${new Date().toISOString()}: ${plural(body.workers.length, 'worker')}, ` +
      `${body.workers.length - offline.length - stopped.length} online, ${offline.length} offline` +
      `${stopped.length > 0 ? `, ${stopped.length} stopped` : ''}; delegation ${body.delegation.enabled ? 'on' : 'off'}`,
  ];
  if (body.workers.length === 0) {
    lines.push('No worker has registered yet (start one: npm run agent -- worker --config <file>).');
  } else {
    lines.push(...workerTable(body.workers));
  }
  lines.push(`Queue depth: ${depthLine(body.queue.depth, body.queue.total)}`);
  if (offline.length > 0) {
    lines.push(
      `OFFLINE: ${offline.map((worker) => printable(worker.worker_id)).join(', ')} — no heartbeat for longer than ` +
        'the stale multiple × its interval; check the host and its worker process.',
    );
  }
  if (stopped.length > 0) {
    lines.push(
      `STOPPED: ${stopped.map((worker) => printable(worker.worker_id)).join(', ')} — deregistered on a graceful ` +
        'shutdown (a planned stop, not counted offline); a new registration brings it back.',
    );
  }
  return lines;
}

function workerTable(workers: readonly HealthWorker[]): string[] {
  return table(
    ['WORKER', 'SITE', 'HOST', 'STATUS', 'LAST SEEN', 'AGE', 'INTERVAL', 'EXECUTING', 'BACKLOG', 'VERSION'],
    workers.map((worker) => [
      printable(worker.worker_id),
      worker.site,
      printable(worker.host),
      statusLabel(worker.status),
      worker.last_seen,
      formatAge(worker.heartbeat_age_ms),
      formatDuration(worker.interval_ms),
      String(worker.executing),
      backlog(worker.offline_backlog),
      printable(worker.version),
    ]),
    ['left', 'left', 'left', 'left', 'left', 'right', 'right', 'right', 'right'],
  );
}
