import { userInfo } from 'node:os';
import { UsageError } from '../../errors.js';
import { plural, printable } from '../../report/format.js';
import { expectStatus, resolveWorkerApi, type WorkerApiTarget } from './api-client.js';
import type { WorkersApiOptions } from './health.js';
import { reportingFailures } from './output.js';

/** The options of `runlane workers delegation [on|off]` (cli/definitions/workers.ts). */
export interface WorkersDelegationOptions extends WorkersApiOptions {
  readonly changedBy?: string | undefined;
}

interface DelegationBody {
  enabled: boolean;
  source: 'flag' | 'default';
  changed_at?: string;
  changed_by?: string;
  online_workers: number;
  error?: string;
  message?: string;
}

const PATH = '/api/workers/delegation';

/**
 * `runlane workers delegation [on|off]`: without a state, whether worker delegation is on; with
 * one, switches it (PUT /api/workers/delegation). Exit 1 when the control plane refuses "on"
 * because no worker is online.
 *
 * @example
 * process.exitCode = await runWorkersDelegation('on', { apiUrl: 'http://127.0.0.1:3000', changedBy: 'ops' });
 */
export function runWorkersDelegation(
  state: 'on' | 'off' | undefined,
  options: WorkersDelegationOptions,
): Promise<number> {
  return reportingFailures(async () => {
    if (options.changedBy !== undefined && state === undefined) {
      throw new UsageError('--changed-by goes with "workers delegation on|off"');
    }
    const api = await resolveWorkerApi(options);
    const json = options.json === true;
    if (state === undefined) return showDelegation(api, json);
    return switchDelegation(api, state === 'on', options.changedBy ?? defaultChangedBy(), json);
  });
}

async function showDelegation(api: WorkerApiTarget, json: boolean): Promise<number> {
  const answer = await api.request('GET', PATH);
  expectStatus(api, answer, PATH, 200);
  const body = answer.body as DelegationBody;
  console.log(json ? JSON.stringify(body, null, 2) : delegationLine(body));
  return 0;
}

async function switchDelegation(
  api: WorkerApiTarget,
  enabled: boolean,
  changedBy: string,
  json: boolean,
): Promise<number> {
  const answer = await api.request('PUT', PATH, { enabled, changed_by: changedBy });
  const body = answer.body as DelegationBody;
  if (answer.status === 409 && body?.error === 'no_worker_online') {
    if (json) console.log(JSON.stringify(body, null, 2));
    console.error(
      `runlane workers: refused — no_worker_online: no worker is online on ${api.description}, so delegation ` +
        `was not turned on (it stays ${body.enabled ? 'on' : 'off'}). Start a worker (npm run agent -- worker ` +
        '--config <file>), wait for its heartbeat (npx runlane workers health), then try again.',
    );
    return 1;
  }
  expectStatus(api, answer, PATH, 200);
  console.log(json ? JSON.stringify(body, null, 2) : delegationLine(body));
  return 0;
}

function delegationLine(body: DelegationBody): string {
  const origin =
    body.source === 'default'
      ? 'the deploy-time default, WORKER_DELEGATION_ENABLED'
      : `switched ${body.changed_at ?? '?'} by ${printable(body.changed_by ?? '?')}`;
  return `Worker delegation is ${body.enabled ? 'on' : 'off'} (${origin}); ${plural(body.online_workers, 'worker')} online.`;
}

function defaultChangedBy(): string {
  try {
    return `cli:${userInfo().username}`.slice(0, 128);
  } catch {
    return 'cli';
  }
}
