/**
 * `runlane-agent worker` and `runlane-agent worker status`: seed 004's worker, host side. The
 * options are defined (and parsed) by the program in ../program.ts; this module is loaded when a
 * worker command runs.
 */
import { resolve } from 'node:path';
import { HostFileError } from '../../errors.js';
import { EXIT_CODES } from '../../runner/exit-codes.js';
import { loadWorkerConfig } from '../../worker/config.js';
import { WorkerConfigError } from '../../worker/errors.js';
import { createWorkerLog, type WorkerLog } from '../../worker/log.js';
import { checkScripts, createWorker, workerSpoolStatus } from '../../worker/start.js';
import { WORKER_EXIT_UNEXPECTED } from '../exit-codes.js';
import type { CliIo } from '../io.js';

/** The options of `worker status`, as the program parsed them. */
export interface WorkerStatusOptions {
  readonly config: string;
  readonly json?: boolean | undefined;
}

/** The options of `worker`, as the program parsed them. */
export interface WorkerOptions extends WorkerStatusOptions {
  readonly once?: boolean | undefined;
}

/** Runs the worker until a signal (or one receive round with `once`); resolves to the exit code, never throws. */
export function runWorker(options: WorkerOptions, io: CliIo): Promise<number> {
  return withWorkerConfig(options, io, async (config, log, cwd) => {
    await checkScripts(config, log);
    const { worker, close } = createWorker(config, { log, env: io.env, cwd, spawner: io.spawner });
    const unsubscribe = io.onSignal?.((signal) => {
      log.event('signal_received', { signal });
      worker.stop(signal);
    });
    try {
      const summary = await worker.run({ once: options.once === true });
      if (options.once) {
        io.stdout.write(
          options.json
            ? `${JSON.stringify(summary)}\n`
            : `received ${summary.received}, executed ${summary.executed}, skipped ${summary.skipped}, deleted ${summary.deleted}\n`,
        );
      }
    } finally {
      unsubscribe?.();
      close();
    }
    return 0;
  });
}

/** What waits in the worker's result spool; resolves to the exit code, never throws. */
export function workerStatus(options: WorkerStatusOptions, io: CliIo): Promise<number> {
  return withWorkerConfig(options, io, async (config, _log, cwd) => {
    const spool = await workerSpoolStatus(config, cwd);
    if (options.json)
      io.stdout.write(`${JSON.stringify({ worker_id: config.workerId, site: config.site, ...spool })}\n`);
    else
      io.stdout.write(
        `worker ${config.workerId} (site ${config.site}) spool ${spool.directory}: ${spool.files} result envelopes, ${spool.bytes} of ${spool.maxBytes} bytes\n` +
          Object.entries(spool.byPayloadType)
            .map(([type, count]) => `  ${type}: ${count}\n`)
            .join('') +
          (spool.oldest === null ? '' : `  oldest ${spool.oldest}, newest ${spool.newest}\n`) +
          `  refused (kept in refused/): ${spool.refused}\n  quarantined (checksum): ${spool.quarantined}\n`,
      );
    return 0;
  });
}

type WorkerConfig = Awaited<ReturnType<typeof loadWorkerConfig>>;

/** Loads the config and runs `body`: a config error exits 2 naming its field path, anything else {@link WORKER_EXIT_UNEXPECTED}. */
async function withWorkerConfig(
  options: WorkerStatusOptions,
  io: CliIo,
  body: (config: WorkerConfig, log: WorkerLog, cwd: string) => Promise<number>,
): Promise<number> {
  const cwd = io.cwd ?? process.cwd();
  const log = createWorkerLog((line) => io.stderr.write(line), { json: options.json === true });
  try {
    return await body(await loadWorkerConfig(resolve(cwd, options.config), io.env), log, cwd);
  } catch (error) {
    if (error instanceof WorkerConfigError || error instanceof HostFileError) {
      io.stderr.write(`runlane-agent: ${error.message}\n`);
      return EXIT_CODES.usage;
    }
    io.stderr.write(
      `runlane-agent: worker failed unexpectedly: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    return WORKER_EXIT_UNEXPECTED;
  }
}
