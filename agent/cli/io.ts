import type { Writable } from 'node:stream';
import type { Clock } from '../runner/clock.js';
import type { HostSampler } from '../runner/host-signals.js';
import type { Spawner } from '../runner/watchdog.js';

/** What `runlane-agent` talks to; the bin passes the process's, tests their own. */
export interface CliIo {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdout: Writable;
  readonly stderr: Writable;
  /** Pass stdin through to the command (not when it is a terminal: the command runs in the background group). */
  readonly stdin?: 'inherit' | 'ignore';
  /** Resolves relative paths of the command line and the configs. @default process.cwd() */
  readonly cwd?: string;
  /** Registers a handler for SIGTERM/SIGINT/SIGHUP to the agent; returns how to unregister it. */
  readonly onSignal?: (handler: (signal: NodeJS.Signals) => void) => () => void;
  readonly clock?: Clock;
  readonly spawner?: Spawner;
  readonly hostSampler?: HostSampler;
}
