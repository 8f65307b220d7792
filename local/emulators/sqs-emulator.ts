/**
 * Runs fauxqs (an in-process SQS emulator speaking the JSON protocol) on
 * 127.0.0.1.
 *
 * `startFauxqs()` always listens on 0.0.0.0, so this builds the same Fastify
 * app with fauxqs' exported `buildApp()` and listens on loopback only. State
 * is in memory.
 *
 * Queue URLs look like `http://sqs.us-east-1.localhost:<port>/000000000000/<name>`;
 * fauxqs reads only the region and name from them. Send every request to the
 * endpoint (`localSqsClient` sets `useQueueUrlAsEndpoint: false`), never to
 * the URL's host.
 *
 * With `dataDir`, queues and messages persist in SQLite across restarts.
 * fauxqs wires that up only inside `startFauxqs()` (which listens on 0.0.0.0),
 * so the same wiring is repeated here around `buildApp()`; its store classes are
 * not in the package's exports map and are loaded by file from the pinned
 * fauxqs 2.4.1 (a test restarts the emulator to catch an upgrade that breaks it).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildApp } from 'fauxqs';
import { EmulatorStartError, PortInUseError } from '../errors.js';

const SERVICE = 'SQS emulator';

export interface SqsEmulatorOptions {
  /** Port on 127.0.0.1. @default 0 (any free port) */
  readonly port?: number;
  /** Keep queues and messages in SQLite here, across restarts. @default undefined (in memory) */
  readonly dataDir?: string;
}

interface PersistenceManagerLike {
  load(sqs: unknown, sns: unknown, s3: unknown): void;
  close(): void;
}
interface StoreWithPersistence {
  persistence?: unknown;
}
interface SqsStoreLike extends StoreWithPersistence {
  allQueues(): Iterable<StoreWithPersistence>;
}

/** fauxqs' `dist/` folder; its exports map offers only an ESM entry, so look it up on the module paths. */
function fauxqsDistDirectory(): string {
  const paths = createRequire(import.meta.url).resolve.paths('fauxqs') ?? [];
  const found = paths
    .map((dir) => join(dir, 'fauxqs', 'dist'))
    .find((dir) => existsSync(join(dir, 'persistence.js')));
  if (!found) throw new EmulatorStartError(SERVICE, 'fauxqs is not installed (run npm ci)');
  return found;
}

/** fauxqs' stores with SQLite persistence, wired as `startFauxqs({ dataDir })` does. */
async function persistentStores(dataDir: string) {
  mkdirSync(dataDir, { recursive: true });
  const dist = fauxqsDistDirectory();
  const load = async <T>(file: string, name: string): Promise<T> =>
    (await import(pathToFileURL(join(dist, file)).href))[name] as T;
  const SqsStore = await load<new () => SqsStoreLike>('sqs/sqsStore.js', 'SqsStore');
  const SnsStore = await load<new () => StoreWithPersistence>('sns/snsStore.js', 'SnsStore');
  const S3Store = await load<new () => StoreWithPersistence>('s3/s3Store.js', 'S3Store');
  const PersistenceManager = await load<new (dir: string) => PersistenceManagerLike>(
    'persistence.js',
    'PersistenceManager',
  );
  const stores = { sqsStore: new SqsStore(), snsStore: new SnsStore(), s3Store: new S3Store() };
  const persistence = new PersistenceManager(dataDir);
  // Load before attaching persistence, as fauxqs does, so loading writes nothing back.
  persistence.load(stores.sqsStore, stores.snsStore, stores.s3Store);
  stores.sqsStore.persistence = persistence;
  stores.snsStore.persistence = persistence;
  stores.s3Store.persistence = persistence;
  for (const queue of stores.sqsStore.allQueues()) queue.persistence = persistence;
  return { stores, persistence };
}

export interface SqsEmulator {
  /** `http://127.0.0.1:<port>` */
  readonly endpoint: string;
  readonly port: number;
  /** Milliseconds until the emulator listened. */
  readonly startupMs: number;
  /** Closes the server and every open connection. Idempotent. */
  stop(): Promise<void>;
}

/**
 * @example
 * const sqs = await startSqsEmulator();
 * const client = localSqsClient(sqs.endpoint);
 * await sqs.stop();
 */
export async function startSqsEmulator(options: SqsEmulatorOptions = {}): Promise<SqsEmulator> {
  const startedAt = performance.now();
  const requestedPort = options.port ?? 0;
  const persistent = options.dataDir ? await persistentStores(options.dataDir) : undefined;
  const app = buildApp({
    logger: false,
    ...(persistent
      ? { stores: persistent.stores as unknown as NonNullable<Parameters<typeof buildApp>[0]>['stores'] }
      : {}),
  });
  if (persistent) app.addHook('preClose', () => persistent.persistence.close());
  try {
    await app.listen({ port: requestedPort, host: '127.0.0.1' });
  } catch (error) {
    await app.close().catch(() => {});
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new PortInUseError(SERVICE, requestedPort, { cause: error });
    }
    throw new EmulatorStartError(SERVICE, String(error), { cause: error });
  }
  const address = app.server.address();
  if (address === null || typeof address === 'string') {
    await app.close();
    throw new EmulatorStartError(SERVICE, `unexpected listen address ${String(address)}`);
  }
  let stopped: Promise<void> | undefined;
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    port: address.port,
    startupMs: Math.round(performance.now() - startedAt),
    stop: () => {
      stopped ??= app.close().then(() => undefined);
      return stopped;
    },
  };
}
