import { chmod, lstat, mkdir, unlink } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import type { ControlCommand, SupervisorHandle } from '../supervisor/handle.js';
import { ControlSocketError, ControlSocketInUseError } from './errors.js';
import { type ControlResponse, MAX_REQUEST_LINE_BYTES, parseRequestLine } from './protocol.js';

/** Longest Unix socket path the kernel takes (`sun_path` less its NUL): 107 on Linux, 103 on macOS/BSD. */
const MAX_SOCKET_PATH_BYTES = process.platform === 'linux' ? 107 : 103;
/** Requests read ahead of their answers per connection before the server stops reading it. */
const MAX_PENDING_PER_CONNECTION = 32;
const NEWLINE = 0x0a;

export interface ControlServerOptions {
  /** Socket path (the supervisor config's `dashboard.path`). Its folder is created 0700 if missing. */
  readonly path: string;
  readonly handle: SupervisorHandle;
  /** Longest request line in bytes; a longer one is answered with an error and skipped. @default 65536 */
  readonly maxLineBytes?: number;
  /** Connections served at once; one more is answered with an error and closed. @default 16 */
  readonly maxConnections?: number;
  /** A connection that sends nothing this long is closed. @default 60000 */
  readonly idleTimeoutMs?: number;
  /** How long to wait for whatever already sits at `path` to answer a connect. @default 1000 */
  readonly probeTimeoutMs?: number;
  /** Diagnostics (stale socket replaced, a handle that threw). @default no logging */
  readonly log?: (line: string) => void;
}

/**
 * Serves a `SupervisorHandle` on a Unix domain socket, owner-only (mode 0600, created under
 * umask 0177 so it is never wider), newline-delimited JSON (see `protocol.ts`).
 *
 * Before listening it refuses a path another live server answers on (`ControlSocketInUseError`,
 * `field_path="dashboard.path"`) and replaces a stale socket file a crashed supervisor left.
 * `close()` ends every connection and removes the socket file.
 *
 * @example
 * const server = new ControlServer({ path: config.dashboard.path, handle });
 * await server.listen();
 * // … on shutdown
 * await server.close();
 */
export class ControlServer {
  readonly #path: string;
  readonly #handle: SupervisorHandle;
  readonly #maxLineBytes: number;
  readonly #maxConnections: number;
  readonly #idleTimeoutMs: number;
  readonly #probeTimeoutMs: number;
  readonly #log: (line: string) => void;
  readonly #sockets = new Set<Socket>();
  #server: Server | undefined;

  public constructor(options: ControlServerOptions) {
    this.#path = options.path;
    this.#handle = options.handle;
    this.#maxLineBytes = options.maxLineBytes ?? MAX_REQUEST_LINE_BYTES;
    this.#maxConnections = options.maxConnections ?? 16;
    this.#idleTimeoutMs = options.idleTimeoutMs ?? 60_000;
    this.#probeTimeoutMs = options.probeTimeoutMs ?? 1_000;
    this.#log = options.log ?? (() => {});
  }

  public get path(): string {
    return this.#path;
  }

  /** Binds the socket; rejects with a `ControlSocketError` (field path `dashboard.path`) when it cannot. */
  public async listen(): Promise<void> {
    if (this.#server) throw new Error('ControlServer.listen() called twice');
    const path = this.#path;
    if (path.length === 0) throw new ControlSocketError(path, 'empty path');
    if (Buffer.byteLength(path) > MAX_SOCKET_PATH_BYTES)
      throw new ControlSocketError(path, `longer than ${MAX_SOCKET_PATH_BYTES} bytes`);
    try {
      await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    } catch (error) {
      throw new ControlSocketError(path, `cannot create its folder (${errnoCode(error)})`, { cause: error });
    }
    await this.#clearStale();

    const server = createServer({ allowHalfOpen: true }, (socket) => this.#onConnection(socket));
    this.#server = server;
    let umaskSet = false;
    await new Promise<void>((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException): void => {
        this.#server = undefined;
        reject(
          error.code === 'EADDRINUSE'
            ? new ControlSocketInUseError(path, { cause: error })
            : new ControlSocketError(path, `cannot listen (${error.code ?? error.message})`, {
                cause: error,
              }),
        );
      };
      server.once('error', onError);
      server.once('listening', () => {
        server.off('error', onError);
        resolve();
      });
      // bind(2) runs synchronously inside listen(), so the umask covers exactly the socket's creation.
      const previous = trySetUmask(0o177);
      umaskSet = previous !== undefined;
      try {
        server.listen(path);
      } finally {
        if (previous !== undefined) process.umask(previous);
      }
    });
    // Only where the umask cannot be set (a worker thread): the folder (0700 when created here) guards the gap.
    if (!umaskSet) await chmod(path, 0o600);
    server.on('error', (error) => this.#log(`control socket ${path}: ${error.message}`));
  }

  /** Stops listening, ends every connection and removes the socket file. Safe to call twice. */
  public async close(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of this.#sockets) socket.destroy();
    // Closing the bound pipe unlinks its path (libuv), so the socket file goes with the server.
    await closed;
  }

  /** Whatever sits at the path: nothing (fine), a live server (refused), a stale socket (removed). */
  async #clearStale(): Promise<void> {
    const path = this.#path;
    let stats: Awaited<ReturnType<typeof lstat>>;
    try {
      stats = await lstat(path);
    } catch (error) {
      if (errnoCode(error) === 'ENOENT') return;
      throw new ControlSocketError(path, `cannot inspect it (${errnoCode(error)})`, { cause: error });
    }
    if (!stats.isSocket())
      throw new ControlSocketError(path, 'exists and is not a socket; refusing to replace it');
    const probe = await probeSocket(path, this.#probeTimeoutMs);
    if (probe === 'answers' || probe === 'timeout') throw new ControlSocketInUseError(path);
    if (probe === 'ENOENT') return;
    if (probe !== 'ECONNREFUSED')
      throw new ControlSocketError(path, `cannot tell whether a supervisor serves it (${probe})`);
    this.#log(`control socket ${path}: removing a stale socket nobody listens on`);
    try {
      await unlink(path);
    } catch (error) {
      if (errnoCode(error) !== 'ENOENT')
        throw new ControlSocketError(path, `cannot remove the stale socket (${errnoCode(error)})`, {
          cause: error,
        });
    }
  }

  #onConnection(socket: Socket): void {
    socket.on('error', () => {
      // The client went away; its socket closes and leaves the set.
    });
    if (this.#sockets.size >= this.#maxConnections) {
      socket.end(encode({ ok: false, error: 'too many control connections; try again' }));
      return;
    }
    this.#sockets.add(socket);
    socket.on('close', () => this.#sockets.delete(socket));
    socket.setTimeout(this.#idleTimeoutMs, () => socket.destroy());

    let chunks: Buffer[] = [];
    let size = 0;
    /** Inside an oversized line (already answered): drop bytes until its newline. */
    let skipping = false;
    let pending = 0;
    let queue = Promise.resolve();
    const enqueue = (answer: () => Promise<ControlResponse>): void => {
      pending += 1;
      if (pending >= MAX_PENDING_PER_CONNECTION) socket.pause();
      queue = queue.then(async () => {
        const response = await answer();
        if (!socket.destroyed && socket.writable) socket.write(encode(response));
        pending -= 1;
        if (pending < MAX_PENDING_PER_CONNECTION && !socket.destroyed) socket.resume();
      });
    };
    const tooLong = (): void =>
      enqueue(async () => ({
        ok: false,
        error: `request line longer than ${this.#maxLineBytes} bytes`,
        field_path: 'command',
      }));

    socket.on('data', (data: Buffer) => {
      let start = 0;
      while (start <= data.length) {
        const newline = data.indexOf(NEWLINE, start);
        const piece = data.subarray(start, newline === -1 ? data.length : newline);
        if (!skipping && size + piece.length > this.#maxLineBytes) {
          tooLong();
          skipping = true;
          chunks = [];
          size = 0;
        }
        if (newline === -1) {
          if (!skipping) {
            chunks.push(piece);
            size += piece.length;
          }
          return;
        }
        start = newline + 1;
        if (skipping) {
          skipping = false;
          continue;
        }
        const line = Buffer.concat([...chunks, piece])
          .toString('utf8')
          .trim();
        chunks = [];
        size = 0;
        if (line.length > 0) enqueue(() => this.#answer(line));
      }
    });
    // The client half-closed after its requests: answer them, then close our side.
    socket.on('end', () => {
      void queue.then(() => socket.end());
    });
  }

  async #answer(line: string): Promise<ControlResponse> {
    const request = parseRequestLine(line);
    if ('ok' in request) return request;
    try {
      return await this.#dispatch(request);
    } catch (error) {
      // A throwing handle is a supervisor bug: the client learns which command failed, the log gets why.
      this.#log(`control command ${request.command} failed: ${(error as Error)?.stack ?? String(error)}`);
      return { ok: false, error: `the supervisor failed to handle ${request.command}` };
    }
  }

  async #dispatch(command: ControlCommand): Promise<ControlResponse> {
    switch (command.command) {
      case 'health':
        return { ok: true, health: this.#handle.health() };
      case 'current-state':
        return { ok: true, current_state: this.#handle.currentState() };
      default:
        return await this.#handle.execute(command);
    }
  }
}

function encode(response: ControlResponse): string {
  return `${JSON.stringify(response)}\n`;
}

function errnoCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

/** Sets the umask and returns the previous one, or undefined where it cannot be set (worker threads). */
function trySetUmask(mask: number): number | undefined {
  try {
    return process.umask(mask);
  } catch {
    return undefined;
  }
}

/** `answers`, `timeout`, or the connect's errno code. */
type ProbeResult = string;

/** Connects to an existing socket file to learn whether a server is behind it. */
function probeSocket(path: string, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const socket = createConnection({ path });
    const done = (result: ProbeResult): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => done('timeout'), timeoutMs);
    socket.once('connect', () => done('answers'));
    socket.once('error', (error: NodeJS.ErrnoException) => {
      done(error.code ?? error.message);
    });
  });
}
