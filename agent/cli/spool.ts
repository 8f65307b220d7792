import { readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { isSubcommand } from '#common/command-line.js';
import { AgentUsageError, RunnerConfigError } from '../errors.js';
import { createAgentReporter } from '../reporter/setup.js';
import { DEFAULT_RUNNER_CONFIG_FILE, loadRunnerConfig, resolveEventBus } from '../runner/config.js';
import { EXIT_CODES } from '../runner/exit-codes.js';
import { OfflineSpool } from '../spool/index.js';
import { SPOOL_SPEC } from './cli-spec.js';

export const SPOOL_USAGE = `usage: runlane-agent spool status [--spool-dir <dir>] [--config <file>] [--json]
       runlane-agent spool flush --environment <env> [--event-bus <name>] [--spool-dir <dir>] [--config <file>] [--json]

status  what waits in the offline spool: events by payload type, size, oldest and newest,
        files quarantined for a failed checksum.
flush   replay the spool to the environment's bus now, newest first, until it is empty or
        the bus stops acknowledging; a spooled event is deleted only once the bus gave it an
        event id. (Every runlane-agent run also replays in the background.)

exit: 0 done (flush: spool empty); 1 flush left events in the spool; 2 bad usage or config.`;

interface SpoolIo {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly cwd?: string;
}

/** `runlane-agent spool <status|flush> …`; resolves to the exit code. */
export async function runSpoolCli(argv: readonly string[], io: SpoolIo): Promise<number> {
  const log = (line: string): void => {
    io.stderr.write(`runlane-agent: ${line}\n`);
  };
  const [action, ...rest] = argv;
  if (action === undefined || action === '--help' || action === '-h' || rest.includes('--help')) {
    (action === undefined ? io.stderr : io.stdout).write(`${SPOOL_USAGE}\n`);
    return action === undefined ? EXIT_CODES.usage : 0;
  }
  let values: Record<string, string | boolean | undefined>;
  try {
    if (!isSubcommand(SPOOL_SPEC, action))
      throw new AgentUsageError(`unknown spool command ${action}; expected status or flush`);
    ({ values } = parseArgs({
      args: rest,
      strict: true,
      allowPositionals: false,
      options: SPOOL_SPEC.subcommands[action].options,
    }));
    if (action === 'flush' && !values.environment) throw new AgentUsageError('--environment is required');
  } catch (error) {
    log((error as Error).message);
    io.stderr.write(`${SPOOL_USAGE}\n`);
    return EXIT_CODES.usage;
  }
  let config: Awaited<ReturnType<typeof loadRunnerConfig>>;
  try {
    config = await loadRunnerConfig((values.config as string | undefined) ?? DEFAULT_RUNNER_CONFIG_FILE);
  } catch (error) {
    if (!(error instanceof RunnerConfigError)) throw error;
    log(error.message);
    return EXIT_CODES.usage;
  }
  const spoolDirectory = (values['spool-dir'] as string | undefined) ?? config.reporting.spoolDirectory;
  const directory = resolve(io.cwd ?? process.cwd(), spoolDirectory);
  const json = values.json === true;

  if (action === 'status') {
    const spool = new OfflineSpool({ directory, maxBytes: config.reporting.spoolMaxBytes });
    const pending = await spool.pending();
    const byPayloadType: Record<string, number> = {};
    for (const entry of pending)
      byPayloadType[entry.payloadType] = (byPayloadType[entry.payloadType] ?? 0) + 1;
    const timestamps = pending.map((entry) => entry.timestamp);
    const status = {
      directory,
      files: pending.length,
      bytes: pending.reduce((sum, entry) => sum + entry.bytes, 0),
      maxBytes: config.reporting.spoolMaxBytes,
      byPayloadType,
      oldest: timestamps.length > 0 ? new Date(Math.min(...timestamps)).toISOString() : null,
      newest: timestamps.length > 0 ? new Date(Math.max(...timestamps)).toISOString() : null,
      quarantined: await countFiles(join(directory, 'quarantine')),
    };
    if (json) io.stdout.write(`${JSON.stringify(status)}\n`);
    else {
      io.stdout.write(
        `spool ${status.directory}: ${status.files} events, ${status.bytes} of ${status.maxBytes} bytes\n` +
          Object.entries(byPayloadType)
            .map(([type, count]) => `  ${type}: ${count}\n`)
            .join('') +
          (status.oldest ? `  oldest ${status.oldest}, newest ${status.newest}\n` : '') +
          `  quarantined files: ${status.quarantined}\n`,
      );
    }
    return 0;
  }

  const environment = values.environment as string;
  const busName = resolveEventBus(
    config.reporting,
    environment,
    io.env,
    values['event-bus'] as string | undefined,
  );
  const { reporter, client } = createAgentReporter({
    settings: config.reporting,
    busName,
    spoolDirectory,
    cwd: io.cwd,
    log,
  });
  try {
    const result = await reporter.flush();
    if (json) io.stdout.write(`${JSON.stringify({ busName, ...result })}\n`);
    else
      io.stdout.write(
        `flushed to ${busName}: ${result.delivered} delivered, ${result.remaining} still spooled, ${result.quarantined} quarantined\n`,
      );
    return result.remaining === 0 ? 0 : 1;
  } finally {
    client.destroy();
  }
}

async function countFiles(directory: string): Promise<number> {
  try {
    return (await readdir(directory)).length;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw error;
  }
}
