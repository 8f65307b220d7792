import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';

/** Host readings taken while a command is stalled. Pressure values are `some avg10` (%). */
export interface HostSample {
  readonly load1: number | undefined;
  readonly cores: number;
  readonly cpuPressure: number | undefined;
  readonly ioPressure: number | undefined;
}

/** Takes a {@link HostSample}; injectable so tests decide what the host looks like. */
export type HostSampler = () => Promise<HostSample>;

/** `/proc/loadavg` → the 1-minute load average. */
export function parseLoadAvg(text: string): number | undefined {
  const first = Number(text.trim().split(/\s+/)[0]);
  return Number.isFinite(first) ? first : undefined;
}

/** `/proc/pressure/<resource>` → `some avg10` (percent of the last 10 s some task was stalled). */
export function parsePressureSomeAvg10(text: string): number | undefined {
  const match = /^some\s.*\bavg10=([\d.]+)/m.exec(text);
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

/**
 * Reads `/proc/loadavg` and `/proc/pressure/{cpu,io}` under `procRoot`; a file that
 * is missing (no PSI in the kernel, not Linux) gives `undefined`, never an error.
 *
 * @example
 * const sample = await procHostSampler()();
 * sample.load1 / sample.cores; // load per core
 */
export function procHostSampler(procRoot = '/proc', cores = availableParallelism()): HostSampler {
  const read = async (path: string): Promise<string | undefined> => {
    try {
      return await readFile(`${procRoot}/${path}`, 'utf8');
    } catch {
      return undefined;
    }
  };
  return async () => {
    const [loadavg, cpu, io] = await Promise.all([
      read('loadavg'),
      read('pressure/cpu'),
      read('pressure/io'),
    ]);
    return {
      load1: loadavg === undefined ? undefined : parseLoadAvg(loadavg),
      cores,
      cpuPressure: cpu === undefined ? undefined : parsePressureSomeAvg10(cpu),
      ioPressure: io === undefined ? undefined : parsePressureSomeAvg10(io),
    };
  };
}
