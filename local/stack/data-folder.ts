/**
 * The data folder the emulators keep their state in: resolved, deleted first on `--reset`, absent
 * with `--ephemeral`; and, when what is in it stops the stack from starting, one error that names
 * the folder and how to reset it instead of the emulator's own.
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { DataFolderError, PortInUseError, ProvisioningMismatchError } from '../errors.js';
import type { LocalStackOptions } from './options.js';

export interface DataFolder {
  /** Absolute path; undefined keeps everything in memory (`--ephemeral`). */
  readonly path: string | undefined;
  /** Whether the folder held data before this start (after a reset, it does not). */
  readonly hadData: boolean;
}

/**
 * Resolves the data folder, deleting it first when `reset` is set.
 *
 * @example
 * openDataFolder({ dataDir: '.runlane', reset: true }); // { path: '/work/main/.runlane', hadData: false }
 */
export function openDataFolder(options: Pick<LocalStackOptions, 'dataDir' | 'reset'>): DataFolder {
  const path = options.dataDir === undefined ? undefined : resolve(options.dataDir);
  if (path && options.reset) rmSync(path, { recursive: true, force: true });
  const hadData = path !== undefined && existsSync(path) && readdirSync(path).length > 0;
  return { path, hadData };
}

/** An emulator that would not start on data already in the folder: blame the folder (a taken port is not its fault). */
export function emulatorStartFailure(folder: DataFolder, error: unknown): unknown {
  if (folder.hadData && folder.path && !(error instanceof PortInUseError) && isDataError(error)) {
    return new DataFolderError(folder.path, (error as Error).message, { cause: error });
  }
  return error;
}

/** A table or queue kept in the folder with another layout than this version provisions. */
export function provisioningFailure(folder: DataFolder, error: unknown): unknown {
  if (error instanceof ProvisioningMismatchError && folder.path) {
    return new DataFolderError(folder.path, error.message, { cause: error });
  }
  return error;
}

function isDataError(error: unknown): boolean {
  const text = `${(error as Error)?.message ?? ''} ${String((error as Error)?.cause ?? '')}`;
  return (
    /sqlite|database|corrupt|malformed|file is not|EmulatorStart|did not answer/i.test(text) ||
    (error as Error)?.name === 'EmulatorStartError'
  );
}
