/**
 * The command API (the deployed API handler's code) behind the local HTTP API gateway on
 * `apiPort` (with its JWT and IAM authorizers), plus the local-only routes: `/_local/info`, `POST /_local/sweep` and
 * `POST /_local/worker-sweep`.
 */
import { toApiRequest } from '#adapters/apigateway/http-api-request.js';
import { LANES, type LaneName } from '#contracts/lanes.js';
import { systemClock } from '#core/base/clock.js';
import type { WorkerSettings } from '#core/workers/settings.js';
import { buildCommandApi } from '#wiring/api.js';
import type { LocalAuth } from '../auth/auth-folder.js';
import { startLocalApiGateway } from '../emulators/api-gateway.js';
import type { StackContext } from './context.js';
import type { LocalStackInfo } from './info.js';
import { LOCAL_ENVIRONMENT, LOCAL_TABLE_NAME } from './options.js';
import type { LaneQueues } from './provision.js';
import type { StackChecks } from './scheduled-checks.js';
import { flushingAfter } from './telemetry.js';

export interface StackApiSettings {
  /** The auth folder the gateway's authorizers verify tokens and signatures against. */
  readonly auth: LocalAuth;
  readonly lanes: Readonly<Record<LaneName, LaneQueues>>;
  readonly workers: WorkerSettings;
  readonly checks: Pick<StackChecks, 'sweepNow' | 'sweepWorkersNow'>;
  /** What `/_local/info` answers; asked per request, since the info is complete only once the stack is up. */
  readonly info: () => LocalStackInfo;
}

/** Starts the gateway; returns its URL (`http://127.0.0.1:<port>`). */
export async function startStackApi(context: StackContext, settings: StackApiSettings): Promise<string> {
  const { config } = context.options;
  const metrics = context.telemetry.metrics('runlane-api');
  const api = buildCommandApi(
    {
      tableName: LOCAL_TABLE_NAME,
      queueUrls: Object.fromEntries(LANES.map((l) => [l.name, settings.lanes[l.name].queueUrl])),
      maxBodyBytes: config.api.maxBodyBytes,
      environment: LOCAL_ENVIRONMENT,
      workers: settings.workers,
      authorization: config.api.authorization,
    },
    context.clients,
    context.telemetry.log('runlane-api'),
    systemClock,
    metrics,
  );
  const { sweepNow, sweepWorkersNow } = settings.checks;
  const gateway = await startLocalApiGateway({
    port: context.options.apiPort,
    auth: settings.auth,
    authorization: config.api.authorization,
    handler: (event) =>
      flushingAfter(metrics, () => api(toApiRequest(event, { environmentName: LOCAL_ENVIRONMENT }))),
    localRoutes: {
      '/_local/info': async () => ({ statusCode: 200, body: settings.info() }),
      '/_local/sweep': async ({ method }) =>
        method === 'POST'
          ? { statusCode: 202, body: { commandId: await sweepNow() } }
          : { statusCode: 405, body: { message: 'use POST' } },
      '/_local/worker-sweep': async ({ method }) =>
        method === 'POST'
          ? { statusCode: 200, body: await sweepWorkersNow() }
          : { statusCode: 405, body: { message: 'use POST' } },
    },
  });
  context.shutdown.add(() => gateway.stop());
  return gateway.url;
}
