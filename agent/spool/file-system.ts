import * as fsp from 'node:fs/promises';
import { CREATE_EXCLUSIVE, READ_NO_FOLLOW } from '../runner/host-files.js';

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
  /** Never follows a symbolic link (ELOOP). */
  readFile(path: string): Promise<Uint8Array>;
  /** Of the path itself (a symbolic link is not followed); `uid` is its owner. */
  stat(path: string): Promise<{
    readonly size: number;
    readonly uid?: number;
    isFile(): boolean;
    isSymbolicLink?(): boolean;
  }>;
  /**
   * `flags` is `'wx'` (create a new file to write: O_EXCL, never through a symbolic link, 0600)
   * or `'r'` (open a directory to fsync it).
   */
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
  readFile: (path) => fsp.readFile(path, { flag: READ_NO_FOLLOW }),
  stat: (path) => fsp.lstat(path),
  open: (path, flags) => fsp.open(path, flags === 'wx' ? CREATE_EXCLUSIVE : 'r', 0o600),
  rename: (from, to) => fsp.rename(from, to),
  unlink: (path) => fsp.unlink(path),
};
