import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { isSubcommand } from '#common/command-line.js';
import { EXIT_CODES } from '../runner/exit-codes.js';
import type { Spawner } from '../runner/watchdog.js';
import { loadWorkerConfig } from '../worker/config.js';
import { WorkerConfigError } from '../worker/errors.js';
import { createWorkerLog } from '../worker/log.js';
import { checkScripts, createWorker, workerSpoolStatus } from '../worker/start.js';
import { WORKER_SPEC } from './cli-spec.js';

export const WORKER_USAGE = `usage: runlane-agent worker --config <file> [--once] [--json]
       runlane-agent worker status --config <file> [--json]

Seed 004's worker, host side. Long-polls the site's task lane (taskQueueUrl, the queue
runlane-<env>-worker-tasks-<site>), claims each task through the control plane
(POST <apiUrl>/api/workers/tasks/<taskId>/claim, SigV4 with the SDK's default credentials;
exactly one worker wins), executes it within what this host allows (collect_facts;
execute_script: only a script of the config's allowlist, arguments within its pattern, under
its timeout, output capped; execute_action: only an enabled built-in plugin), and hands the
result envelopes to the control plane (transport api: POST <apiUrl>/api/workers/results;
transport bus: PutEvents WorkerResult). What is not acknowledged waits in the offline spool as
<payload_type>-<timestamp>-<task_id>.json, replayed newest first and deleted only after a 2xx;
a refused envelope (4xx, or a payload_type other than facts, logs, execution_result, health)
is kept in <spool>/refused/. The task message is deleted once its result is acknowledged or
spooled. A registration at start, then a heartbeat every heartbeatIntervalMs (capabilities,
offline backlog, tasks executing). See config/worker.example.json.

Environment: WORKER_DEFAULT_ID (default workerId), WORKER_SITE_NAME (default site),
RUNLANE_WORKER_QUEUE_URL (overrides taskQueueUrl), RUNLANE_API_URL (overrides apiUrl),
AWS_ENDPOINT_URL_SQS / AWS_ENDPOINT_URL_EVENTBRIDGE (other endpoints, e.g. emulators).

options:
  --config <file>   the worker config (required)
  --once            one receive round (its tasks handled, results handed over), then exit
  --json            log lines (stderr) and the status / --once summary (stdout) as JSON
  --help            this text

Logs one line per event to stderr (task_claimed, script_executed … sha256=…, result_delivered,
result_spooled, result_refused, message_deleted, heartbeat_failed …) with task_id, command_id
and correlation_id. SIGTERM / SIGINT: stop polling, let the task in hand finish (its tree is
killed after shutdownGraceMs; a second signal kills it at once), hand its result over, send
one deregistration (the control plane then shows it stopped, not offline), exit 0.
exit: 0 stopped; 2 bad usage or config (every error names its field_path); 70 unexpected error.`;

/** Exit code of an unexpected error (EX_SOFTWARE), as the supervisor's Panic. */
export const WORKER_EXIT_UNEXPECTED = 70;

export interface WorkerCliIo {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly cwd?: string;
  readonly onSignal?: (handler: (signal: NodeJS.Signals) => void) => () => void;
  readonly spawner?: Spawner;
}

/** `runlane-agent worker …`; resolves to the exit code, never throws. */
export async function runWorkerCli(argv: readonly string[], io: WorkerCliIo): Promise<number> {
  // `worker status`, else the worker itself (no other subcommand).
  const status = isSubcommand(WORKER_SPEC, argv[0]);
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: status ? argv.slice(1) : [...argv],
      strict: true,
      allowPositionals: false,
      // One parse for both: `status` refuses --once below, with its own message.
      options: WORKER_SPEC.options,
    }));
  } catch (error) {
    io.stderr.write(`runlane-agent: ${(error as Error).message}\n${WORKER_USAGE}\n`);
    return EXIT_CODES.usage;
  }
  if (values.help) {
    io.stdout.write(`${WORKER_USAGE}\n`);
    return 0;
  }
  if (typeof values.config !== 'string' || values.config === '') {
    io.stderr.write(`runlane-agent: --config is required\n${WORKER_USAGE}\n`);
    return EXIT_CODES.usage;
  }
  if (status && values.once) {
    io.stderr.write(`runlane-agent: --once does not apply to worker status\n${WORKER_USAGE}\n`);
    return EXIT_CODES.usage;
  }
  const json = values.json === true;
  const cwd = io.cwd ?? process.cwd();
  const log = createWorkerLog((line) => io.stderr.write(line), { json });
  try {
    const config = await loadWorkerConfig(resolve(cwd, values.config), io.env);
    if (status) {
      const spool = await workerSpoolStatus(config, cwd);
      if (json)
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
    }
    await checkScripts(config, log);
    const { worker, close } = createWorker(config, { log, env: io.env, cwd, spawner: io.spawner });
    const unsubscribe = io.onSignal?.((signal) => {
      log.event('signal_received', { signal });
      worker.stop(signal);
    });
    try {
      const summary = await worker.run({ once: values.once === true });
      if (values.once) {
        io.stdout.write(
          json
            ? `${JSON.stringify(summary)}\n`
            : `received ${summary.received}, executed ${summary.executed}, skipped ${summary.skipped}, deleted ${summary.deleted}\n`,
        );
      }
    } finally {
      unsubscribe?.();
      close();
    }
    return 0;
  } catch (error) {
    if (error instanceof WorkerConfigError) {
      io.stderr.write(`runlane-agent: ${error.message}\n`);
      return EXIT_CODES.usage;
    }
    io.stderr.write(
      `runlane-agent: worker failed unexpectedly: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    return WORKER_EXIT_UNEXPECTED;
  }
}
