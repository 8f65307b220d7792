import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { SQSClient } from '@aws-sdk/client-sqs';
import packageJson from '../../package.json' with { type: 'json' };
import { EventBridgeSender } from '../reporter/event-bridge-sender.js';
import { createAgentEventBridgeClient } from '../reporter/setup.js';
import { resolveEventBus } from '../runner/config.js';
import type { Spawner } from '../runner/watchdog.js';
import { OfflineSpool, parseSpoolFileName } from '../spool/index.js';
import { WorkerApiClient } from './api-client.js';
import type { WorkerConfig } from './config.js';
import { httpPost } from './http-post.js';
import type { WorkerLog } from './log.js';
import { countRefused, ResultOutbox } from './result-outbox.js';
import { ApiWorkerTransport, BusWorkerTransport, type WorkerTransport } from './transport.js';
import { Worker } from './worker.js';

/** The agent's version, from its package.json (the heartbeat's `version`); bundled with the agent. */
export const AGENT_VERSION: string = packageJson.version;

/** Region in an API Gateway host name (`<id>.execute-api.<region>.amazonaws.com`). */
function regionOfApiUrl(apiUrl: string): string | undefined {
  return /\.execute-api\.([a-z0-9-]+)\.amazonaws\.com$/.exec(new URL(apiUrl).hostname)?.[1];
}

export interface StartWorkerOptions {
  readonly log: WorkerLog;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  readonly spawner?: Spawner;
}

export interface StartedWorker {
  readonly worker: Worker;
  readonly spool: OfflineSpool;
  /** Closes the SDK clients (after `worker.run` resolved). */
  close(): void;
}

/**
 * Wires a {@link Worker} from its config: the SQS client (the SDK's default credentials and
 * region; `AWS_ENDPOINT_URL_SQS` points it at an emulator), the SigV4-signed API client (same
 * credentials), the result transport (`api` or `bus`), the offline spool and its outbox.
 *
 * @example
 * const { worker, close } = createWorker(await loadWorkerConfig(file, process.env), { log, env: process.env, cwd });
 * await worker.run({ once: false });
 * close();
 */
export function createWorker(config: WorkerConfig, options: StartWorkerOptions): StartedWorker {
  const endpointFromEnv = options.env.AWS_ENDPOINT_URL_SQS ?? options.env.AWS_ENDPOINT_URL;
  const sqs = new SQSClient({
    ...(config.region === undefined ? {} : { region: config.region }),
    // An emulator's queue URLs name hosts that may not resolve; send to the configured endpoint.
    ...(endpointFromEnv === undefined || endpointFromEnv === '' ? {} : { useQueueUrlAsEndpoint: false }),
    maxAttempts: 3,
    requestHandler: {
      connectionTimeout: 5_000,
      // A long poll holds the request for pollWaitSeconds.
      requestTimeout: config.pollWaitSeconds * 1_000 + 10_000,
    },
  });
  const api = new WorkerApiClient({
    baseUrl: config.apiUrl,
    region: async () => config.region ?? regionOfApiUrl(config.apiUrl) ?? (await sqs.config.region()),
    credentials: () => sqs.config.credentials(),
    timeoutMs: config.apiRequestTimeoutMs,
    fetch: httpPost,
  });
  let transport: WorkerTransport;
  let closeBus = (): void => {};
  if (config.transport === 'bus') {
    const client = createAgentEventBridgeClient(config.reporting);
    closeBus = () => client.destroy();
    transport = new BusWorkerTransport(
      new EventBridgeSender({
        client,
        busName: resolveEventBus(config.reporting, config.environment, options.env, undefined),
      }),
    );
  } else {
    transport = new ApiWorkerTransport(api, config.apiUrl);
  }
  const spool = new OfflineSpool({
    directory: resolve(options.cwd, config.spoolDirectory),
    maxBytes: config.spoolMaxBytes,
  });
  const outbox = new ResultOutbox({
    spool,
    transport,
    log: options.log,
    replayIntervalMs: config.replayIntervalMs,
  });
  const worker = new Worker(config, {
    sqs,
    api,
    transport,
    outbox,
    log: options.log,
    env: options.env,
    host: hostname(),
    version: AGENT_VERSION,
    spawner: options.spawner,
  });
  return {
    worker,
    spool,
    close: () => {
      sqs.destroy();
      closeBus();
    },
  };
}

/**
 * Logs allowlisted scripts that cannot be executed now: unreadable (`script_unavailable`) or no
 * longer matching their pinned SHA-256 (`script_hash_mismatch`). A task naming one fails the
 * same way; each run reads and checks the file again.
 */
export async function checkScripts(config: WorkerConfig, log: WorkerLog): Promise<void> {
  for (const [name, spec] of Object.entries(config.scripts)) {
    let sha256: string;
    try {
      sha256 = createHash('sha256')
        .update(await readFile(spec.path))
        .digest('hex');
    } catch (error) {
      log.event('script_unavailable', {
        script: name,
        path: spec.path,
        code: (error as NodeJS.ErrnoException).code ?? 'unknown',
      });
      continue;
    }
    if (sha256 !== spec.sha256) {
      log.event('script_hash_mismatch', {
        script: name,
        path: spec.path,
        sha256,
        expected_sha256: spec.sha256,
      });
    }
  }
}

/** `runlane-agent worker status`: the spool's backlog. */
export interface WorkerSpoolStatus {
  readonly directory: string;
  readonly files: number;
  readonly bytes: number;
  readonly maxBytes: number;
  readonly byPayloadType: Readonly<Record<string, number>>;
  readonly oldest: string | null;
  readonly newest: string | null;
  /** Refused by the control plane (or locally), kept in refused/. */
  readonly refused: number;
  /** Failed their checksum, in quarantine/. */
  readonly quarantined: number;
}

/** What waits in the worker's spool (listed, not verified). */
export async function workerSpoolStatus(config: WorkerConfig, cwd: string): Promise<WorkerSpoolStatus> {
  const directory = resolve(cwd, config.spoolDirectory);
  // Read only: opening an OfflineSpool would remove a running worker's in-progress temp files.
  const pending: { payloadType: string; timestamp: number; bytes: number }[] = [];
  for (const fileName of await listFiles(directory)) {
    const name = parseSpoolFileName(fileName);
    if (name === undefined) continue;
    try {
      const stats = await stat(join(directory, fileName));
      if (stats.isFile()) pending.push({ ...name, bytes: stats.size });
    } catch {
      // delivered (deleted) meanwhile
    }
  }
  const byPayloadType: Record<string, number> = {};
  for (const entry of pending) byPayloadType[entry.payloadType] = (byPayloadType[entry.payloadType] ?? 0) + 1;
  const timestamps = pending.map((entry) => entry.timestamp);
  return {
    directory,
    files: pending.length,
    bytes: pending.reduce((sum, entry) => sum + entry.bytes, 0),
    maxBytes: config.spoolMaxBytes,
    byPayloadType,
    oldest: timestamps.length > 0 ? new Date(Math.min(...timestamps)).toISOString() : null,
    newest: timestamps.length > 0 ? new Date(Math.max(...timestamps)).toISOString() : null,
    refused: await countRefused(directory),
    quarantined: (await listFiles(join(directory, 'quarantine'))).filter((name) => name.endsWith('.json'))
      .length,
  };
}

async function listFiles(directory: string): Promise<string[]> {
  try {
    return await readdir(directory);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}
