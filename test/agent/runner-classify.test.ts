import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseLoadAvg, parsePressureSomeAvg10, procHostSampler } from '#agent/runner/host-signals.js';
import { OutputTail } from '#agent/runner/output-tail.js';
import { ProcFsProcessTable, parseProcStat } from '#agent/runner/process-tree.js';
import { type ClassifyInput, classifyStall } from '#agent/runner/root-cause.js';
import { fixture, QUIET_HOST, THRESHOLDS } from './fixtures/runner-harness.js';

const classify = (lines: string[], overrides: Partial<ClassifyInput> = {}) =>
  classifyStall({
    lines,
    host: QUIET_HOST,
    thresholds: THRESHOLDS,
    maxEvidenceLines: 5,
    timeout: 'idle',
    timeoutMs: 12_000,
    ...overrides,
  });

describe('classifyStall', () => {
  it.each([
    ['Error: ENOSPC: no space left on device, write', 'io_wait'],
    ['EIO: i/o error, read', 'io_wait'],
    ['cp: error writing: Input/output error', 'io_wait'],
    ['Error: read ECONNRESET', 'network'],
    ['connect ECONNREFUSED 127.0.0.1:5432', 'network'],
    ['getaddrinfo EAI_AGAIN registry.npmjs.org', 'network'],
    ['Error: connect ENETUNREACH 10.0.0.1:443', 'network'],
    ['UND_ERR_CONNECT_TIMEOUT', 'network'],
    ['curl: (28) Connection timed out after 5001 milliseconds', 'network'],
    ['Error: EBUSY: resource busy or locked, rmdir', 'lock'],
    ['waiting for lock /var/lib/dpkg/lock-frontend', 'lock'],
    ['ERROR 1205: Lock wait timeout exceeded; try restarting transaction', 'lock'],
    ['sqlite3.OperationalError: database is locked', 'lock'],
    ['Deadlock found when trying to get lock', 'lock'],
  ])('%j → %s', (line, rootCause) => {
    expect(classify(['starting', line]).rootCause).toBe(rootCause);
  });

  it('ordinary lines, "package-lock.json" and a generic "timeout" word decide nothing', () => {
    const result = classify(['updated package-lock.json', 'jest --testTimeout 5000', 'compiling 12 files']);
    expect(result.rootCause).toBe('child_hang');
    expect(result.evidence).toEqual([
      'idle timeout: no output for 12000 ms; no I/O, network, lock or host signal',
    ]);
  });

  it('the most recent signal decides, with every line of its category as evidence', () => {
    const result = classify([
      'Error: ENOSPC at cache',
      'retry 1: read ECONNRESET',
      'ok',
      'retry 2: read ECONNRESET',
    ]);
    expect(result).toEqual({
      rootCause: 'network',
      evidence: ['retry 1: read ECONNRESET', 'retry 2: read ECONNRESET'],
    });
  });

  it('keeps at most maxEvidenceLines, the latest ones', () => {
    const lines = Array.from({ length: 8 }, (_, i) => `attempt ${i}: ETIMEDOUT`);
    expect(classify(lines, { maxEvidenceLines: 3 }).evidence).toEqual(lines.slice(-3));
  });

  it('output beats host readings', () => {
    expect(
      classify(['EBUSY'], { host: { load1: 99, cores: 1, cpuPressure: 99, ioPressure: 99 } }).rootCause,
    ).toBe('lock');
  });

  it('host: load per core over the threshold is cpu_starve, with the reading as evidence', () => {
    const result = classify(['silence follows'], { host: { ...QUIET_HOST, load1: 5, cores: 2 } });
    expect(result).toEqual({
      rootCause: 'cpu_starve',
      evidence: ['host: load1=5.00 on 2 cores = 2.50/core > 2.00'],
    });
  });

  it('host: thresholds are configurable (the same load is not cpu_starve under a higher threshold)', () => {
    const host = { ...QUIET_HOST, load1: 5, cores: 2 };
    expect(classify([], { host, thresholds: { ...THRESHOLDS, loadPerCoreThreshold: 3 } }).rootCause).toBe(
      'child_hang',
    );
  });

  it('host: CPU pressure is cpu_starve; I/O pressure is io_wait and checked first', () => {
    expect(classify([], { host: { ...QUIET_HOST, cpuPressure: 55 } }).evidence).toEqual([
      'host: cpu pressure some avg10=55.00% > 40.00%',
    ]);
    expect(classify([], { host: { ...QUIET_HOST, cpuPressure: 55, ioPressure: 70 } }).rootCause).toBe(
      'io_wait',
    );
  });

  it('no host reading and no output signal is child_hang, naming the hard timeout when it fired', () => {
    expect(classify([], { host: undefined, timeout: 'hard', timeoutMs: 45_000 }).evidence).toEqual([
      'hard timeout: still running after 45000 ms; no I/O, network, lock or host signal',
    ]);
  });
});

describe('host signals', () => {
  it('parses /proc/loadavg and PSI files', () => {
    expect(parseLoadAvg('3.42 1.10 0.50 2/345 6789\n')).toBe(3.42);
    expect(
      parsePressureSomeAvg10(
        'some avg10=12.50 avg60=3.00 avg300=1.00 total=123\nfull avg10=1.00 avg60=0 avg300=0 total=5\n',
      ),
    ).toBe(12.5);
  });

  it('reads a proc root; missing PSI files are undefined, not errors', async () => {
    const sample = await procHostSampler(fixture('runner-proc'), 4)();
    expect(sample).toEqual({ load1: 9.5, cores: 4, cpuPressure: 61.2, ioPressure: undefined });
  });
});

describe('parseProcStat', () => {
  it('counts fields after the last ")" so a name with spaces and parens parses', () => {
    const stat =
      '4242 (my (odd) cmd) S 4200 4242 4200 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 987654 1000 10 ...';
    expect(parseProcStat(stat)).toEqual({
      pid: 4242,
      ppid: 4200,
      pgid: 4242,
      startTime: '987654',
      state: 'S',
    });
  });
});

describe('ProcFsProcessTable', () => {
  it('reads every /proc/<pid>/stat; calls during a scan share it, a later call scans again', async () => {
    const root = await mkdtemp(join(tmpdir(), 'proc-'));
    const addProcess = async (pid: number) => {
      await mkdir(join(root, String(pid)));
      await writeFile(
        join(root, String(pid), 'stat'),
        `${pid} (node) S 1 ${pid} ${pid} 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 ${pid}00 0 0`,
      );
    };
    try {
      await addProcess(10);
      await writeFile(join(root, 'uptime'), '1 1');
      const table = new ProcFsProcessTable(root);
      const first = table.list();
      expect(table.list()).toBe(first); // one scan for concurrent callers
      expect((await first).map((p) => [p.pid, p.startTime])).toEqual([[10, '1000']]);
      await addProcess(11);
      const second = table.list();
      expect(second).not.toBe(first);
      expect((await second).map((p) => p.pid).sort()).toEqual([10, 11]);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe('OutputTail', () => {
  it('keeps the last lines per arrival, joins split characters and lines, and adds unfinished lines', () => {
    const tail = new OutputTail(3);
    tail.push('stdout', Buffer.from('one\ntw'));
    tail.push('stderr', Buffer.from('err '));
    tail.push('stdout', Buffer.from([0x6f, 0x20, 0xe2, 0x82]));
    tail.push('stdout', Buffer.from([0xac, 0x0a, 0x74, 0x68, 0x72, 0x65, 0x65, 0x0d, 0x0a]));
    expect(tail.lines()).toEqual(['two €', 'three', 'err ']);
  });
});
