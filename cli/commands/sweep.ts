/** The options of `runlane sweep` (cli/definitions/sweep.ts). */
export interface SweepOptions {
  readonly apiUrl: string;
}

/** `runlane sweep`: enqueues an anomaly.sweep on the local stack now and prints its answer. */
export async function runSweep(options: SweepOptions): Promise<number> {
  const response = await fetch(`${options.apiUrl}/_local/sweep`, { method: 'POST' }).catch(() => undefined);
  if (!response?.ok) {
    console.error(`runlane sweep: no local stack answers at ${options.apiUrl} (start one with npm start)`);
    return 1;
  }
  console.log(JSON.stringify(await response.json()));
  return 0;
}
