import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { Writable } from 'node:stream';
import { formatIssue } from '#common/config-issues.js';
import { MAX_TIMER_MS } from '#common/worker-config.js';
import {
  type AgentBusEvent,
  type DashboardLinkState,
  SUPERVISOR_DETAIL_TYPES,
  type SupervisorChildEvent,
  type SupervisorChildEventKind,
  type SupervisorStatus,
} from '#contracts/agent-events.js';
import { childEnvironment } from '../runner/child-env.js';
import { type Clock, systemClock } from '../runner/clock.js';
import type { WatchdogTimeouts } from '../runner/config.js';
import { OutputTail } from '../runner/output-tail.js';
import { ProcessTreeKiller } from '../runner/process-tree.js';
import { redactSecrets } from '../runner/redact.js';
import { type RunningCommand, type Spawner, startWatched, type WatchResult } from '../runner/watchdog.js';
import { type ChildSpec, parseChildSpec, type SupervisorConfig } from './config.js';
import { SupervisorConfigError, SupervisorPidFileInUseError } from './errors.js';
import type {
  ChildCounts,
  ChildState,
  CommandResult,
  SupervisorCurrentState,
  SupervisorHandle,
  SupervisorHealth,
  TaskExit,
} from './handle.js';
import { isSameProcess, PidFile, type PidFileContents, processStartTime } from './pid-file.js';
import { backoffDelay, RestartBudget } from './restart-budget.js';
import { classifyExit, formatTaskExit, type StopCause } from './task-exit.js';

/** Where the supervisor's events go; `AgentReporter` is the real one. */
export interface SupervisorReporter {
  report(events: readonly AgentBusEvent[]): Promise<unknown>;
  /** `connected` when the bus acknowledged an event within `windowMs`. */
  dashboardLink(windowMs: number): DashboardLinkState;
}

export interface SupervisorDeps {
  /** One line per call, no trailing newline. */
  readonly log: (line: string) => void;
  /** @default none: events are not sent and `dashboard_link` is `disconnected` */
  readonly reporter?: SupervisorReporter;
  /** Resolves `pidFile` and children's relative `cwd`. @default process.cwd() */
  readonly cwd?: string;
  /** Where the children's `inheritEnv` variables come from (each child's `env` is laid over them). @default process.env */
  readonly env?: NodeJS.ProcessEnv;
  /** Children's output bytes, unchanged. @default discarded */
  readonly childOutput?: (child: string, stream: 'stdout' | 'stderr', chunk: Buffer) => void;
  /** @default systemClock */
  readonly clock?: Clock;
  /** @default child_process.spawn */
  readonly spawner?: Spawner;
  /** @default a ProcessTreeKiller on /proc */
  readonly killer?: Pick<ProcessTreeKiller, 'kill'>;
  /** Start time of a live pid. @default /proc/<pid>/stat field 22 */
  readonly startTimeOf?: (pid: number) => Promise<string | undefined>;
}

/** Deadline of a watchdog timeout the child does not have: never armed (see `neverClock`). */
const NEVER = Number.MAX_SAFE_INTEGER;
/** Output lines kept per child for exit classification. */
const TAIL_LINES = 20;

type MutatingCommand = Parameters<SupervisorHandle['execute']>[0];

interface Run {
  readonly command: RunningCommand;
  readonly pid: number;
  readonly startedAt: number;
  readonly output: OutputTail;
  readonly stderr: OutputTail;
  stopCause?: StopCause;
}

interface Slot {
  readonly spec: ChildSpec;
  state: ChildState;
  run?: Run;
  restartCount: number;
  lastExit: TaskExit | null;
  readonly budget: RestartBudget;
  /** Consecutive automatic restarts, for the backoff delay. */
  attempt: number;
  restartAt?: number;
  restartTimer?: unknown;
  /** Start again once the current process is gone (restart-child, release-child during a stop). */
  startAfterStop: boolean;
  removed: boolean;
}

interface ExitNotice {
  readonly slot: Slot;
  readonly run: Run | undefined;
  readonly result?: WatchResult;
  readonly spawnError?: Error;
}

/**
 * `runlane-agent supervise`: keeps the configured children running. Each child runs under the
 * `run` mode's watchdog (own process group, idle / hard deadlines, tree kill with grace). A
 * control loop — a timer tick every `controlLoopIntervalMs`, plus a wake-up on every exit —
 * reaps exits, classifies them (`TaskExit::*`), applies the restart policy, the restart budget
 * (quarantine when exhausted) and the backoff, and reports health. Nothing in the loop waits
 * for a process to die: kills run beside it, so `control_loop_iterations` keeps increasing
 * while a child ignores SIGTERM.
 *
 * @example
 * const supervisor = new Supervisor(config, { log: console.log, reporter });
 * await supervisor.start();
 * supervisor.health().status; // 'ready'
 * await supervisor.execute({ command: 'remove-child', name: 'relay' }); // { result: 'Accepted' }
 * await supervisor.shutdown(); // ShutdownPhase::Draining → Terminating → Completed
 */
export class Supervisor implements SupervisorHandle {
  private readonly clock: Clock;
  private readonly watchdogClock: Clock;
  private readonly killer: Pick<ProcessTreeKiller, 'kill'>;
  private readonly startTimeOf: (pid: number) => Promise<string | undefined>;
  private readonly host: string;
  private readonly cwd: string;
  private readonly pidFile: PidFile;
  private readonly slots = new Map<string, Slot>();
  /** Every process started and not yet reaped (also of removed children), for the pid file. */
  private readonly live = new Map<number, { name: string; pid: number; startTime?: string }>();
  /** Exit handling in flight (a process being reaped); shutdown waits for all of them. */
  private readonly inflight = new Set<Promise<void>>();
  private readonly exits: ExitNotice[] = [];
  /** Reports in flight; shutdown waits for them (the reporter spools what the bus refuses). */
  private readonly sending = new Set<Promise<void>>();
  private readonly startedAt: number;
  private iterations = 0;
  private started = false;
  private draining = false;
  private stopped = false;
  private lastStatus: SupervisorStatus | undefined;
  private lastHealthAt = Number.NEGATIVE_INFINITY;
  private tickTimer: unknown;
  private wakeQueued = false;
  private ownStartTime = 'unknown';
  private shutdownPromise: Promise<void> | undefined;

  public constructor(
    private readonly config: SupervisorConfig,
    private readonly deps: SupervisorDeps,
  ) {
    this.clock = deps.clock ?? systemClock;
    const clock = this.clock;
    // A watchdog deadline the child does not have is never armed (a Node timer past 2^31-1 ms fires at once).
    this.watchdogClock = {
      ...clock,
      setTimeout: (callback, ms) => (ms > MAX_TIMER_MS ? undefined : clock.setTimeout(callback, ms)),
      clearTimeout: (handle) => {
        if (handle !== undefined) clock.clearTimeout(handle);
      },
    };
    this.killer = deps.killer ?? new ProcessTreeKiller({ clock });
    this.startTimeOf = deps.startTimeOf ?? ((pid) => processStartTime(pid));
    this.host = config.host ?? hostname();
    this.cwd = deps.cwd ?? process.cwd();
    this.pidFile = new PidFile(resolve(this.cwd, config.pidFile));
    this.startedAt = clock.now();
    for (const spec of config.children) this.slots.set(spec.name, this.newSlot(spec));
  }

  /**
   * Starts the control loop, terminates orphans a previous supervisor left (see `pid-file.ts`),
   * then starts every child. Throws {@link SupervisorPidFileInUseError} when the pid file's
   * supervisor is still running.
   */
  public async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.scheduleTick();
    try {
      this.ownStartTime = (await this.startTimeOf(process.pid)) ?? 'unknown';
      await this.terminateOrphans();
    } catch (error) {
      this.stopLoop();
      throw error;
    }
    await this.writePidFile();
    if (this.draining) return;
    for (const slot of this.slots.values()) if (slot.state === 'starting') this.spawn(slot, false);
    this.tick();
  }

  public health(): SupervisorHealth {
    return {
      status: this.status(),
      uptime_secs: Math.round(this.clock.now() - this.startedAt) / 1000,
      control_loop_iterations: this.iterations,
      dashboard_link: this.deps.reporter?.dashboardLink(this.config.dashboardLinkWindowMs) ?? 'disconnected',
      children: this.counts(),
    };
  }

  public currentState(): SupervisorCurrentState {
    return {
      status: this.status(),
      children: this.counts(),
      child_runtime_records: [...this.slots.values()].map((slot) => ({
        name: slot.spec.name,
        pid: slot.run?.pid ?? null,
        state: slot.state,
        restart_policy: slot.spec.restart,
        restart_count: slot.restartCount,
        last_exit: slot.lastExit,
        restart_budget: {
          tokens: slot.budget.tokens,
          capacity: slot.budget.capacity,
          refill_window_ms: slot.budget.refillWindowMs,
        },
      })),
    };
  }

  public async execute(command: MutatingCommand): Promise<CommandResult> {
    if (this.draining) return rejected('the supervisor is stopping');
    const result = this.apply(command);
    this.wake();
    return result;
  }

  /**
   * SIGTERM: stop restarting (`Draining`), tree-kill every child with its grace
   * (`Terminating`), wait for every process, remove the pid file (`Completed`).
   */
  public shutdown(): Promise<void> {
    this.shutdownPromise ??= this.runShutdown();
    return this.shutdownPromise;
  }

  /**
   * For a crash of the supervisor itself: SIGTERM to every child's process group, now,
   * without waiting (the pid file stays, so the next start terminates survivors).
   */
  public signalChildrenNow(): void {
    for (const { pid } of this.live.values()) {
      try {
        process.kill(-pid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
  }

  private async runShutdown(): Promise<void> {
    this.draining = true;
    this.deps.log('ShutdownPhase::Draining');
    for (const slot of this.slots.values()) {
      this.clock.clearTimeout(slot.restartTimer);
      if (slot.state === 'backoff' || slot.state === 'starting') slot.state = 'exited';
    }
    this.tick(); // reports `stopping`
    this.deps.log('ShutdownPhase::Terminating');
    for (const slot of this.slots.values()) this.stop(slot, 'shutdown');
    while (this.inflight.size > 0) await Promise.all([...this.inflight]);
    this.tick(); // reaps the last exits
    this.stopLoop();
    this.sendHealth();
    await Promise.all([...this.sending]);
    await this.pidFile.remove().catch((error: unknown) => {
      this.deps.log(`pid file ${this.pidFile.path} not removed: ${(error as Error).message}`);
    });
    this.deps.log('ShutdownPhase::Completed');
  }

  private apply(command: MutatingCommand): CommandResult {
    if (command.command === 'add-child') return this.addChild(command.spec);
    const slot = this.slots.get(command.name);
    if (slot === undefined) return rejected(`unknown child "${command.name}"`);
    const name = slot.spec.name;
    switch (command.command) {
      case 'remove-child': {
        this.slots.delete(name);
        slot.removed = true;
        this.clock.clearTimeout(slot.restartTimer);
        this.stop(slot, 'remove-child');
        this.deps.log(`removed child=${name}${slot.run === undefined ? '' : ` pid=${slot.run.pid}`}`);
        this.childEvent('removed', slot);
        return ACCEPTED;
      }
      case 'quarantine-child': {
        if (slot.state === 'quarantined') return rejected(`child "${name}" is already quarantined`);
        this.quarantine(slot, 'operator');
        this.stop(slot, 'quarantine-child');
        return ACCEPTED;
      }
      case 'release-child': {
        if (slot.state !== 'quarantined')
          return rejected(`child "${name}" is not quarantined (state ${slot.state})`);
        slot.budget.reset();
        slot.attempt = 0;
        this.deps.log(`released child=${name} restart_budget.tokens=${slot.budget.tokens}`);
        this.childEvent('released', slot);
        if (slot.run === undefined) this.spawn(slot, false);
        else {
          slot.state = 'stopping';
          slot.startAfterStop = true;
        }
        return ACCEPTED;
      }
      case 'restart-child': {
        if (slot.state === 'quarantined')
          return rejected(`child "${name}" is quarantined; release-child first`);
        if (slot.run?.stopCause !== undefined) return rejected(`child "${name}" is already stopping`);
        if (slot.run === undefined) {
          this.clock.clearTimeout(slot.restartTimer);
          this.spawn(slot, true);
        } else {
          slot.startAfterStop = true;
          this.stop(slot, 'restart-child');
          slot.state = 'stopping';
        }
        return ACCEPTED;
      }
    }
  }

  private addChild(raw: unknown): CommandResult {
    let spec: ChildSpec;
    try {
      spec = parseChildSpec(raw);
    } catch (error) {
      if (error instanceof SupervisorConfigError)
        return rejected(`invalid child spec: ${error.issues.map(formatIssue).join('; ')}`);
      throw error;
    }
    if (this.slots.has(spec.name)) return rejected(`child "${spec.name}" already exists`);
    const slot = this.newSlot(spec);
    this.slots.set(spec.name, slot);
    this.deps.log(`added child=${spec.name}`);
    this.childEvent('added', slot);
    if (this.started) this.spawn(slot, false);
    return ACCEPTED;
  }

  private newSlot(spec: ChildSpec): Slot {
    return {
      spec,
      state: 'starting',
      restartCount: 0,
      lastExit: null,
      budget: new RestartBudget(spec.restartBudget.tokens, spec.restartBudget.refillWindowMs, () =>
        this.clock.now(),
      ),
      attempt: 0,
      startAfterStop: false,
      removed: false,
    };
  }

  /** Starts the child's command under the watchdog; its exit comes back through the loop. */
  private spawn(slot: Slot, isRestart: boolean): void {
    const { spec } = slot;
    slot.restartAt = undefined;
    slot.startAfterStop = false;
    const output = new OutputTail(TAIL_LINES);
    const stderr = new OutputTail(TAIL_LINES);
    const sink = (stream: 'stdout' | 'stderr'): Writable =>
      new Writable({
        write: (chunk: Buffer, _encoding, done) => {
          output.push(stream, chunk);
          if (stream === 'stderr') stderr.push(stream, chunk);
          this.deps.childOutput?.(spec.name, stream, chunk);
          done();
        },
      });
    let command: RunningCommand;
    try {
      command = startWatched(spec.command, spec.args, {
        timeouts: this.timeouts(spec),
        tailLines: 1, // the supervisor keeps its own tails
        stdout: sink('stdout'),
        stderr: sink('stderr'),
        clock: this.watchdogClock,
        killer: this.killer,
        ...(this.deps.spawner === undefined ? {} : { spawner: this.deps.spawner }),
        cwd: spec.cwd === undefined ? undefined : resolve(this.cwd, spec.cwd),
        env: childEnvironment(this.deps.env ?? process.env, {
          inherit: this.config.inheritEnv,
          awsCredentials: spec.inheritAwsCredentials,
          extra: spec.env,
        }),
      });
    } catch (error) {
      this.track(Promise.resolve({ slot, run: undefined, spawnError: error as Error }));
      return;
    }
    if (isRestart) slot.restartCount++;
    if (command.pid <= 0) {
      slot.state = 'running';
      this.track(
        command.result.then(
          (result) => ({ slot, run: undefined, result }),
          (error: unknown) => ({ slot, run: undefined, spawnError: error as Error }),
        ),
      );
      return;
    }
    const run: Run = { command, pid: command.pid, startedAt: this.clock.now(), output, stderr };
    slot.run = run;
    slot.state = 'running';
    const entry: { name: string; pid: number; startTime?: string } = { name: spec.name, pid: run.pid };
    this.live.set(run.pid, entry);
    void this.startTimeOf(run.pid).then((startTime) => {
      if (startTime === undefined || !this.live.has(run.pid)) return;
      entry.startTime = startTime;
      return this.writePidFile();
    });
    this.deps.log(
      isRestart
        ? `restarted child=${spec.name} pid=${run.pid} restart_count=${slot.restartCount}`
        : `started child=${spec.name} pid=${run.pid}`,
    );
    if (isRestart) this.childEvent('restarted', slot, { pid: run.pid });
    const grace = this.timeouts(spec).killGraceMs;
    this.track(
      command.result.then(
        async (result) => {
          await this.reapGroup(run.pid, grace);
          return { slot, run, result };
        },
        (error: unknown) => ({ slot, run, spawnError: error as Error }),
      ),
    );
  }

  private track(notice: Promise<ExitNotice>): void {
    const done = notice.then((exit) => {
      this.exits.push(exit);
      this.wake();
    });
    this.inflight.add(done);
    void done.finally(() => this.inflight.delete(done));
  }

  /** Members of the child's process group that outlived it (it exited on its own) get the tree kill too. */
  private async reapGroup(pgid: number, graceMs: number): Promise<void> {
    try {
      process.kill(-pgid, 0);
    } catch {
      return; // no process left in the group
    }
    await this.killer.kill(pgid, graceMs);
  }

  /** Asks the child's tree to stop (SIGTERM, SIGKILL after grace) without waiting for it. */
  private stop(slot: Slot, cause: StopCause): void {
    const run = slot.run;
    if (run === undefined || run.stopCause !== undefined) return;
    run.stopCause = cause;
    run.command.abort('SIGTERM');
  }

  private quarantine(slot: Slot, why: string): void {
    slot.state = 'quarantined';
    slot.restartAt = undefined;
    slot.startAfterStop = false;
    this.clock.clearTimeout(slot.restartTimer);
    this.deps.log(
      `quarantined child=${slot.spec.name} restart_budget.tokens=${slot.budget.tokens} restart_count=${slot.restartCount} reason=${JSON.stringify(why)}`,
    );
    this.childEvent('quarantined', slot);
  }

  private onExit({ slot, run, result, spawnError }: ExitNotice): void {
    if (run !== undefined) {
      this.live.delete(run.pid);
      void this.writePidFile();
      if (slot.run === run) slot.run = undefined;
    }
    const exit = classifyExit({
      result,
      spawnError,
      stopCause: run?.stopCause,
      outputLines: run?.output.lines() ?? [],
      stderrLines: run?.stderr.lines() ?? [],
      at: this.clock.date(),
    });
    slot.lastExit = exit;
    this.deps.log(formatTaskExit(slot.spec.name, exit, run?.pid ?? null));
    this.childEvent('exited', slot, { pid: run?.pid, exit });
    if (slot.removed) return;
    if (this.draining) {
      if (slot.state !== 'quarantined') slot.state = 'exited';
      return;
    }
    if (slot.startAfterStop) {
      this.spawn(slot, run?.stopCause === 'restart-child');
      return;
    }
    if (slot.state === 'quarantined') return;
    const { restart } = slot.spec;
    const wanted = restart === 'permanent' || (restart === 'transient' && exit.kind !== 'Exited');
    if (!wanted) {
      slot.state = exit.kind === 'Exited' ? 'exited' : 'failed';
      return;
    }
    if (run !== undefined && this.clock.now() - run.startedAt >= slot.spec.backoff.resetAfterMs)
      slot.attempt = 0;
    if (!slot.budget.take()) {
      this.quarantine(slot, 'restart budget exhausted');
      return;
    }
    slot.attempt++;
    const delay = backoffDelay(slot.spec.backoff, slot.attempt);
    slot.state = 'backoff';
    slot.restartAt = this.clock.now() + delay;
    slot.restartTimer = this.clock.setTimeout(() => this.wake(), delay);
    this.deps.log(
      `backoff child=${slot.spec.name} attempt=${slot.attempt} delay_ms=${delay} restart_budget.tokens=${slot.budget.tokens}`,
    );
  }

  /** One turn of the control loop: reap exits, start due restarts, report health. */
  private tick(): void {
    this.iterations++;
    for (const exit of this.exits.splice(0)) this.onExit(exit);
    if (!this.draining) {
      const now = this.clock.now();
      for (const slot of this.slots.values()) {
        if (slot.state === 'backoff' && slot.restartAt !== undefined && slot.restartAt <= now)
          this.spawn(slot, true);
      }
    }
    const status = this.status();
    if (status !== this.lastStatus) {
      this.deps.log(
        `SupervisorStatus::${status}${this.lastStatus === undefined ? '' : ` from=${this.lastStatus}`}`,
      );
      this.lastStatus = status;
      this.sendHealth();
    } else if (this.clock.now() - this.lastHealthAt >= this.config.healthIntervalMs) {
      this.sendHealth();
    }
  }

  private scheduleTick(): void {
    if (this.stopped) return;
    this.tickTimer = this.clock.setTimeout(() => {
      this.tick();
      this.scheduleTick();
    }, this.config.controlLoopIntervalMs);
  }

  /** An extra turn as soon as possible (an exit, a command). */
  private wake(): void {
    if (this.wakeQueued || this.stopped || !this.started) return;
    this.wakeQueued = true;
    this.clock.setTimeout(() => {
      this.wakeQueued = false;
      if (!this.stopped) this.tick();
    }, 0);
  }

  private stopLoop(): void {
    this.stopped = true;
    this.clock.clearTimeout(this.tickTimer);
  }

  private status(): SupervisorStatus {
    if (this.draining) return 'stopping';
    const slots = [...this.slots.values()];
    if (!this.started || slots.some((s) => s.state === 'starting')) return 'starting';
    return slots.some((s) => s.state === 'quarantined' || s.state === 'failed' || s.state === 'backoff')
      ? 'degraded'
      : 'ready';
  }

  /**
   * `running`: processes up; `failed`: ended abnormally and not running (given up on, or
   * waiting out a backoff after an abnormal exit); `target_count`: children wanted running,
   * i.e. every slot but those that ended normally and are not to be restarted (`exited`).
   */
  private counts(): ChildCounts {
    let running = 0;
    let failed = 0;
    let quarantined = 0;
    let target = 0;
    for (const slot of this.slots.values()) {
      if (slot.state === 'running') running++;
      if (slot.state === 'failed' || (slot.state === 'backoff' && slot.lastExit?.kind !== 'Exited')) failed++;
      if (slot.state === 'quarantined') quarantined++;
      if (slot.state !== 'exited') target++;
    }
    return { running, failed, quarantined, target_count: target };
  }

  private timeouts(spec: ChildSpec): WatchdogTimeouts {
    return {
      idleMs: spec.watchdog?.idleMs ?? NEVER,
      hardMs: spec.watchdog?.hardMs ?? NEVER,
      killGraceMs: spec.watchdog?.killGraceMs ?? spec.killGraceMs,
    };
  }

  private async terminateOrphans(): Promise<void> {
    let recorded: PidFileContents | undefined;
    try {
      recorded = await this.pidFile.read();
    } catch (error) {
      this.deps.log(`pid file ${this.pidFile.path} unreadable (${(error as Error).message}); ignored`);
      return;
    }
    if (recorded === undefined) return;
    const owner = recorded.supervisor;
    if (owner.pid !== process.pid && (await isSameProcess(owner, this.startTimeOf)))
      throw new SupervisorPidFileInUseError(this.pidFile.path, owner.pid);
    await Promise.all(
      recorded.children.map(async (orphan) => {
        if (!(await isSameProcess(orphan, this.startTimeOf))) return;
        this.deps.log(
          `orphan_found child=${orphan.name} pid=${orphan.pid} start_time=${orphan.startTime} supervisor_pid=${owner.pid}`,
        );
        const spec = this.slots.get(orphan.name)?.spec;
        this.sendChildEvent({
          event: 'orphan_found',
          child: orphan.name,
          pid: orphan.pid,
          restartCount: 0,
          tokensLeft: spec?.restartBudget.tokens ?? 0,
        });
        const report = await this.killer.kill(
          orphan.pid,
          spec === undefined ? 2_000 : this.timeouts(spec).killGraceMs,
        );
        this.deps.log(
          `orphan_terminated child=${orphan.name} pid=${orphan.pid} pids=${report.pids.join(',')} sigkilled=${report.sigkilled.length} survivors=${report.survivors.join(',') || 'none'}`,
        );
      }),
    );
  }

  private writePidFile(): Promise<void> {
    const children = [...this.live.values()].flatMap((entry) =>
      entry.startTime === undefined ? [] : [{ name: entry.name, pid: entry.pid, startTime: entry.startTime }],
    );
    return this.pidFile
      .write({ version: 1, supervisor: { pid: process.pid, startTime: this.ownStartTime }, children })
      .catch((error: unknown) => {
        this.deps.log(`pid file ${this.pidFile.path} not written: ${(error as Error).message}`);
      });
  }

  private childEvent(
    event: SupervisorChildEventKind,
    slot: Slot,
    extra: { readonly pid?: number; readonly exit?: TaskExit } = {},
  ): void {
    const exit = extra.exit;
    this.sendChildEvent({
      event,
      child: slot.spec.name,
      ...(extra.pid === undefined || extra.pid <= 0 ? {} : { pid: extra.pid }),
      ...(exit === undefined
        ? {}
        : {
            exit: {
              kind: exit.kind,
              ...(exit.code === undefined ? {} : { code: exit.code }),
              ...(exit.signal === undefined ? {} : { signal: exit.signal }),
              // The last stderr line or a panic's text: credentials never leave the host in it.
              ...(exit.reason === undefined ? {} : { reason: redactSecrets(exit.reason) }),
            },
          }),
      restartCount: slot.restartCount,
      tokensLeft: slot.budget.tokens,
    });
  }

  private sendChildEvent(fields: Omit<SupervisorChildEvent, 'id' | 'ts' | 'host' | 'environment'>): void {
    this.send({
      detailType: SUPERVISOR_DETAIL_TYPES.child,
      detail: { ...this.eventFields(), ...fields },
    });
  }

  private sendHealth(): void {
    this.lastHealthAt = this.clock.now();
    const health = this.health();
    this.send({
      detailType: SUPERVISOR_DETAIL_TYPES.health,
      detail: {
        ...this.eventFields(),
        status: health.status,
        uptimeSecs: health.uptime_secs,
        controlLoopIterations: health.control_loop_iterations,
        dashboardLink: health.dashboard_link,
        children: {
          running: health.children.running,
          failed: health.children.failed,
          quarantined: health.children.quarantined,
          targetCount: health.children.target_count,
        },
      },
    });
  }

  private eventFields() {
    return {
      id: randomUUID(),
      ts: this.clock.date().toISOString(),
      host: this.host,
      environment: this.config.environment,
    };
  }

  /** Reporting never blocks the loop and never throws into it. */
  private send(event: AgentBusEvent): void {
    const reporter = this.deps.reporter;
    if (reporter === undefined) return;
    try {
      const sent = reporter.report([event]).then(
        () => {},
        (error: unknown) => {
          this.deps.log(`${event.detailType} not reported: ${(error as Error).message}`);
        },
      );
      this.sending.add(sent);
      void sent.finally(() => this.sending.delete(sent));
    } catch (error) {
      this.deps.log(`${event.detailType} not reported: ${(error as Error).message}`);
    }
  }
}

const ACCEPTED: CommandResult = { result: 'Accepted' };

function rejected(reason: string): CommandResult {
  return { result: 'Rejected', reason };
}
