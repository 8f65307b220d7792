import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type {
  CommandResult,
  ControlCommand,
  SupervisorCurrentState,
  SupervisorHandle,
  SupervisorHealth,
} from '#agent/supervisor/handle.js';

/** A fresh folder under the OS temp dir (short: Unix socket paths stop at 107 bytes). */
export async function tempSocketDirectory(): Promise<{ directory: string; remove: () => Promise<void> }> {
  const directory = await mkdtemp(join(tmpdir(), 'rl-ctl-'));
  return { directory, remove: () => rm(directory, { recursive: true, force: true }) };
}

export const HEALTH: SupervisorHealth = {
  status: 'ready',
  uptime_secs: 42,
  control_loop_iterations: 1_337,
  dashboard_link: 'connected',
  children: { running: 2, failed: 1, quarantined: 1, target_count: 3 },
};

export const CURRENT_STATE: SupervisorCurrentState = {
  status: 'degraded',
  children: { running: 1, failed: 1, quarantined: 1, target_count: 3 },
  child_runtime_records: [
    {
      name: 'relay',
      pid: 4242,
      state: 'running',
      restart_policy: 'permanent',
      restart_count: 0,
      last_exit: null,
      restart_budget: { tokens: 5, capacity: 5, refill_window_ms: 60_000 },
    },
    {
      name: 'crashy',
      pid: null,
      state: 'quarantined',
      restart_policy: 'permanent',
      restart_count: 5,
      last_exit: { kind: 'Failed', code: 1, reason: 'boom', at: '2025-01-01T00:00:00.000Z' },
      restart_budget: { tokens: 0, capacity: 5, refill_window_ms: 60_000 },
    },
    {
      name: 'stuck-worker',
      pid: 5151,
      state: 'backoff',
      restart_policy: 'transient',
      restart_count: 12,
      last_exit: {
        kind: 'Killed',
        signal: 'SIGKILL',
        reason: 'idle timeout',
        at: '2025-01-01T00:00:01.000Z',
      },
      restart_budget: { tokens: 3, capacity: 10, refill_window_ms: 60_000 },
    },
  ],
};

type MutatingCommand = Exclude<ControlCommand, { command: 'health' } | { command: 'current-state' }>;

/**
 * A `SupervisorHandle` that records every mutating command; it rejects commands for the
 * child named `ghost` (`no child named ghost`) and accepts the rest, unless `answer` says otherwise.
 */
export class FakeHandle implements SupervisorHandle {
  public readonly executed: MutatingCommand[] = [];
  public health_: SupervisorHealth = HEALTH;
  public state: SupervisorCurrentState = CURRENT_STATE;
  public answer: (command: MutatingCommand) => Promise<CommandResult> = async (command) =>
    'name' in command && command.name === 'ghost'
      ? { result: 'Rejected', reason: 'no child named ghost' }
      : { result: 'Accepted' };

  public health(): SupervisorHealth {
    return this.health_;
  }
  public currentState(): SupervisorCurrentState {
    return this.state;
  }
  public execute(command: MutatingCommand): Promise<CommandResult> {
    this.executed.push(command);
    return this.answer(command);
  }
}

/** A raw connection to the control socket: write any bytes, read answers line by line. */
export class RawConnection {
  readonly #lines: string[] = [];
  readonly #waiters: ((line: string) => void)[] = [];
  #buffer = '';
  public ended = false;

  private constructor(public readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (data: string) => {
      this.#buffer += data;
      for (let newline = this.#buffer.indexOf('\n'); newline !== -1; newline = this.#buffer.indexOf('\n')) {
        const line = this.#buffer.slice(0, newline);
        this.#buffer = this.#buffer.slice(newline + 1);
        const waiter = this.#waiters.shift();
        if (waiter) waiter(line);
        else this.#lines.push(line);
      }
    });
    socket.on('end', () => {
      this.ended = true;
    });
    socket.on('error', () => {});
  }

  public static open(path: string): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = createConnection({ path });
      socket.once('connect', () => resolve(new RawConnection(socket)));
      socket.once('error', reject);
    });
  }

  public write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** The next answer line, parsed; fails after `timeoutMs`. */
  public next(timeoutMs = 2_000): Promise<unknown> {
    const ready = this.#lines.shift();
    if (ready !== undefined) return Promise.resolve(JSON.parse(ready));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no answer line')), timeoutMs);
      this.#waiters.push((line) => {
        clearTimeout(timer);
        resolve(JSON.parse(line));
      });
    });
  }

  /** Resolves once the server closed the connection. */
  public closed(): Promise<void> {
    if (this.socket.closed) return Promise.resolve();
    return new Promise((resolve) => this.socket.once('close', () => resolve()));
  }

  public destroy(): void {
    this.socket.destroy();
  }
}
