import { devConfig } from './local.js';

/** The options of `runlane demo` (cli/definitions/demo.ts). */
export interface DemoOptions {
  readonly apiUrl: string;
  readonly start?: boolean | undefined;
  /** Seconds. */
  readonly timeout: number;
  readonly json?: boolean | undefined;
}

/**
 * `runlane demo`: the scripted mix of commands against a running local stack (or, with
 * `--start`, an ephemeral one it starts), then how each ended; exit 0 when all ended as expected.
 */
export async function runDemoCommand(options: DemoOptions): Promise<number> {
  const { runDemo, printDemoReport } = await import('#local/demo/demo.js');
  const stack = await demoStack(options);
  if (stack === undefined) return 1;
  try {
    const report = await runDemo({
      apiUrl: stack.apiUrl,
      timeoutMs: options.timeout * 1000,
      progress: options.json ? () => undefined : (line) => console.error(line),
    });
    if (options.json) console.log(JSON.stringify(report, null, 2));
    else printDemoReport(report, (line) => console.log(line));
    return report.allAsExpected ? 0 : 1;
  } finally {
    await stack.stop();
  }
}

/** The stack the demo talks to: the one answering at --api-url, else (--start) an ephemeral one. */
async function demoStack(
  options: DemoOptions,
): Promise<{ readonly apiUrl: string; stop(): Promise<void> } | undefined> {
  if (await answers(options.apiUrl)) return { apiUrl: options.apiUrl, stop: async () => undefined };
  if (!options.start) {
    console.error(
      `runlane demo: no local stack answers at ${options.apiUrl}. Start one with \`npm start\` in another terminal, or pass --start.`,
    );
    return undefined;
  }
  const { EPHEMERAL_STACK_OPTIONS, startLocalStack } = await import('#local/stack/start-local-stack.js');
  console.error('runlane demo: starting an ephemeral local stack…');
  const stack = await startLocalStack({
    config: devConfig(),
    ...EPHEMERAL_STACK_OPTIONS,
    pretty: false,
  });
  return { apiUrl: stack.info.apiUrl, stop: () => stack.stop() };
}

/** Whether a local stack answers at `apiUrl`: its `/_local/info` within 2 s. */
async function answers(apiUrl: string): Promise<boolean> {
  try {
    const response = await fetch(`${apiUrl}/_local/info`, { signal: AbortSignal.timeout(2000) });
    return response.ok;
  } catch {
    return false;
  }
}
