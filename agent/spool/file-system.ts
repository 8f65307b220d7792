import * as fsp from 'node:fs/promises';

/** The part of an open file the spool uses. */
export interface SpoolFileHandle {
  writeFile(data: Uint8Array): Promise<void>;
  sync(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The file-system calls the spool makes, so tests can inject faults (ENOSPC, EIO)
 * without filling a disk. Paths are absolute; errors carry errno `code`s like
 * `node:fs/promises` does.
 */
export interface SpoolFileSystem {
  mkdir(path: string): Promise<void>;
  readdir(path: string): Promise<string[]>;
  readFile(path: string): Promise<Uint8Array>;
  stat(path: string): Promise<{ readonly size: number; isFile(): boolean }>;
  /** `flags` is `'wx'` (create a new file to write) or `'r'` (open a directory to fsync it). */
  open(path: string, flags: 'wx' | 'r'): Promise<SpoolFileHandle>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
}

/** `SpoolFileSystem` over `node:fs/promises`. */
export const nodeSpoolFileSystem: SpoolFileSystem = {
  mkdir: async (path) => {
    await fsp.mkdir(path, { recursive: true });
  },
  readdir: (path) => fsp.readdir(path),
  readFile: (path) => fsp.readFile(path),
  stat: (path) => fsp.stat(path),
  open: (path, flags) => fsp.open(path, flags, 0o600),
  rename: (from, to) => fsp.rename(from, to),
  unlink: (path) => fsp.unlink(path),
};
