/**
 * `runlane-agent spool status | flush`: what waits in the offline spool, and replaying it now. The
 * options are defined (and parsed) by the program in ../program.ts; this module is loaded when a
 * spool command runs.
 */
import { readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { HostFileError, RunnerConfigError } from '../../errors.js';
import { createAgentReporter } from '../../reporter/setup.js';
import { type RunnerConfig, resolveEventBus } from '../../runner/config.js';
import { EXIT_CODES } from '../../runner/exit-codes.js';
import { OfflineSpool } from '../../spool/index.js';
import { EXIT_SPOOL_NOT_EMPTY } from '../exit-codes.js';
import type { CliIo } from '../io.js';
import { loadRunnerConfigOption } from '../runner-config-file.js';

/** The options of `spool status`, as the program parsed them. */
export interface SpoolStatusOptions {
  readonly config?: string | undefined;
  readonly spoolDir?: string | undefined;
  readonly json?: boolean | undefined;
}

/** The options of `spool flush`, as the program parsed them. */
export interface SpoolFlushOptions extends SpoolStatusOptions {
  readonly environment: string;
  readonly eventBus?: string | undefined;
}

/** `spool status`: events by payload type, size, oldest and newest, quarantined files; exit 0. */
export async function spoolStatus(options: SpoolStatusOptions, io: CliIo): Promise<number> {
  const config = await loadConfig(options, io);
  if (config === undefined) return EXIT_CODES.usage;
  const directory = resolve(io.cwd ?? process.cwd(), options.spoolDir ?? config.reporting.spoolDirectory);
  const spool = new OfflineSpool({ directory, maxBytes: config.reporting.spoolMaxBytes });
  const pending = await spool.pending();
  const byPayloadType: Record<string, number> = {};
  for (const entry of pending) byPayloadType[entry.payloadType] = (byPayloadType[entry.payloadType] ?? 0) + 1;
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
  if (options.json) io.stdout.write(`${JSON.stringify(status)}\n`);
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

/** `spool flush`: replays the spool to the bus; exit 0 once it is empty, else {@link EXIT_SPOOL_NOT_EMPTY}. */
export async function spoolFlush(options: SpoolFlushOptions, io: CliIo): Promise<number> {
  const config = await loadConfig(options, io);
  if (config === undefined) return EXIT_CODES.usage;
  const busName = resolveEventBus(config.reporting, options.environment, io.env, options.eventBus);
  const { reporter, client } = createAgentReporter({
    settings: config.reporting,
    busName,
    spoolDirectory: options.spoolDir ?? config.reporting.spoolDirectory,
    cwd: io.cwd,
    log: (line) => io.stderr.write(`runlane-agent: ${line}\n`),
  });
  try {
    let result: Awaited<ReturnType<typeof reporter.flush>>;
    try {
      result = await reporter.flush();
    } catch (error) {
      // Not private, or another agent's (a run holds it): named, exit 2.
      if (!(error instanceof HostFileError)) throw error;
      io.stderr.write(`runlane-agent: ${error.message}\n`);
      return EXIT_CODES.usage;
    }
    if (options.json) io.stdout.write(`${JSON.stringify({ busName, ...result })}\n`);
    else
      io.stdout.write(
        `flushed to ${busName}: ${result.delivered} delivered, ${result.remaining} still spooled, ${result.quarantined} quarantined\n`,
      );
    return result.remaining === 0 ? 0 : EXIT_SPOOL_NOT_EMPTY;
  } finally {
    client.destroy();
  }
}

/** The runner config (its reporting settings name the spool), or undefined after logging why not. */
async function loadConfig(options: SpoolStatusOptions, io: CliIo): Promise<RunnerConfig | undefined> {
  try {
    return await loadRunnerConfigOption(options.config);
  } catch (error) {
    if (!(error instanceof RunnerConfigError)) throw error;
    io.stderr.write(`runlane-agent: ${error.message}\n`);
    return undefined;
  }
}

async function countFiles(directory: string): Promise<number> {
  try {
    // Entries only: the quarantine folder also keeps reasons.jsonl.
    return (await readdir(directory)).filter((name) => name.endsWith('.json')).length;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw error;
  }
}
