import { statfs } from 'node:fs/promises';
import { arch, cpus, freemem, hostname, loadavg, platform, release, totalmem, uptime } from 'node:os';
import { WORKER_FACT_NAMES, type WorkerFactName } from '#contracts/worker-contract.js';

/** Host facts by name (the contract's {@link WORKER_FACT_NAMES}). */
export type HostFacts = Partial<Record<WorkerFactName, string | number | readonly number[]>>;

/**
 * `collect_facts`: the facts named (all of {@link WORKER_FACT_NAMES} by default), read from
 * `node:os` and `statfs(diskPath)` now.
 *
 * @example
 * await collectFacts(['hostname', 'cpus'], { diskPath: '/' }); // { hostname: 'web-1', cpus: 8 }
 */
export async function collectFacts(
  names: readonly WorkerFactName[] = WORKER_FACT_NAMES,
  options: { readonly diskPath: string },
): Promise<HostFacts> {
  const facts: HostFacts = {};
  for (const name of new Set(names)) facts[name] = await readFact(name, options.diskPath);
  return facts;
}

async function readFact(
  name: WorkerFactName,
  diskPath: string,
): Promise<string | number | readonly number[]> {
  switch (name) {
    case 'hostname':
      return hostname();
    case 'platform':
      return platform();
    case 'release':
      return release();
    case 'arch':
      return arch();
    case 'cpus':
      return cpus().length;
    case 'memory_total_bytes':
      return totalmem();
    case 'memory_free_bytes':
      return freemem();
    case 'uptime_secs':
      return Math.round(uptime());
    case 'load_average':
      return loadavg().map((value) => Math.round(value * 100) / 100);
    case 'node_version':
      return process.version;
    case 'disk_free_bytes': {
      const stats = await statfs(diskPath);
      return stats.bavail * stats.bsize;
    }
  }
}
