/**
 * The shipped artifact (issue 18, packaging/README.md): the bundle of `npm run build:agent` runs
 * with plain node from a folder with no node_modules; the .deb of `npm run package:agent` holds
 * the expected paths and modes, runs the bundle on the runtime it ships, its launcher keeps its
 * own settings from the commands, its units pass `systemd-analyze verify`, and lintian finds no
 * error. A test that needs a Debian tool the machine lacks is skipped and says so in its name
 * (.ci/run installs them). The e2e tests run against the bundle too: RUNLANE_AGENT_BIN (.ci/run).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { copyFile, cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import packageJson from '../../package.json' with { type: 'json' };
import { projectRoot } from './fixtures/runner-harness.js';

const BUNDLE = join(projectRoot, 'dist/agent/runlane-agent.mjs');
const ARCH = process.arch === 'arm64' ? 'arm64' : 'amd64';
const DEB = join(projectRoot, `dist/runlane-agent_${packageJson.version}_${ARCH}.deb`);
const MODES = ['run', 'spool', 'supervise', 'worker', 'ctl'];

/** `run … --no-report [options] -- sh -c <script>`: a smoke command for the agent. */
function smokeRun(script: string, options: readonly string[] = []): string[] {
  return [
    'run',
    '--environment',
    'dev',
    '--command-type',
    'smoke',
    '--no-report',
    ...options,
    '--',
    'sh',
    '-c',
    script,
  ];
}

const has = (tool: string): boolean => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
const needs = (tool: string): string =>
  has(tool) ? '' : ` (skipped: ${tool} is not installed here; .ci/run installs it)`;

/** What a step of the build prints goes nowhere; a failure throws with its stderr. */
function build(script: string, ...args: string[]): void {
  execFileSync(process.execPath, [join(projectRoot, 'packaging', script), ...args], {
    cwd: projectRoot,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
}

/** The .deb is rebuilt (xz -1) unless it holds this bundle and is newer than every packaging file. */
function debIsCurrent(): boolean {
  const staged = join(
    projectRoot,
    `dist/deb/runlane-agent_${packageJson.version}_${ARCH}/usr/lib/runlane-agent/runlane-agent.mjs`,
  );
  if (!existsSync(DEB) || !existsSync(staged)) return false;
  const built = statSync(DEB).mtimeMs;
  const packaging = ['package-deb.mjs', 'systemd-units.mjs', 'launcher.json', 'README.md'];
  return (
    packaging.every((file) => statSync(join(projectRoot, 'packaging', file)).mtimeMs <= built) &&
    readFileSync(staged).equals(readFileSync(BUNDLE))
  );
}

let work: string;

beforeAll(() => {
  // The bundle of this tree, always (about a second).
  build('build-agent.mjs');
}, 120_000);

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'agent-package-'));
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('the bundle (npm run build:agent)', () => {
  it('runs `run … -- sh -c "echo ok"` with plain node from a folder with no node_modules', async () => {
    const folder = join(work, 'bare');
    await mkdir(folder);
    await copyFile(BUNDLE, join(folder, 'runlane-agent.mjs'));
    const run = spawnSync(process.execPath, ['runlane-agent.mjs', ...smokeRun('echo ok')], {
      cwd: folder,
      encoding: 'utf8',
      env: { PATH: process.env.PATH, HOME: folder },
    });
    expect(run.stderr).toBe('');
    expect(run.stdout).toBe('ok\n');
    expect(run.status).toBe(0);
  });

  it('--version prints the package version; a usage error lists every mode', () => {
    const version = spawnSync(process.execPath, [BUNDLE, '--version'], { encoding: 'utf8' });
    expect(version.stdout.trim()).toBe(packageJson.version);
    const usage = spawnSync(process.execPath, [BUNDLE, 'no-such-mode'], { encoding: 'utf8' });
    expect(usage.status).toBe(2);
    expect(usage.stderr).toContain("unknown command 'no-such-mode'");
    for (const mode of MODES) expect(usage.stderr).toMatch(new RegExp(`modes: .*\\b${mode}\\b`));
  });

  it("drops the launcher's MALLOC_* variables it is told of before the command runs, and nothing else", async () => {
    const folder = await mkdtemp(join(work, 'env-'));
    const run = spawnSync(
      process.execPath,
      [
        BUNDLE,
        ...smokeRun('echo "[$MALLOC_ARENA_MAX] [$MALLOC_TOP_PAD_] [$RUNLANE_AGENT_LAUNCHER_ENV] [$KEEP_ME]"'),
      ],
      {
        cwd: folder,
        encoding: 'utf8',
        env: {
          PATH: process.env.PATH,
          HOME: folder,
          MALLOC_ARENA_MAX: '2',
          MALLOC_TOP_PAD_: '1',
          KEEP_ME: 'kept',
          RUNLANE_AGENT_LAUNCHER_ENV: ' MALLOC_ARENA_MAX KEEP_ME',
        },
      },
    );
    expect(run.stdout).toBe('[] [1] [] [kept]\n');
    expect(run.status).toBe(0);
  });
});

describe('the .deb (npm run package:agent)', () => {
  const dpkgDeb = has('dpkg-deb');
  let root: string;

  beforeAll(async () => {
    if (!dpkgDeb) return;
    if (!debIsCurrent()) build('package-deb.mjs', '--fast');
    root = join(work, 'root');
    execFileSync('dpkg-deb', ['-x', DEB, root]);
    await mkdir(join(root, 'DEBIAN'));
    execFileSync('dpkg-deb', ['-e', DEB, join(root, 'DEBIAN')]);
  }, 600_000);

  it.skipIf(!dpkgDeb)(
    `holds the launcher, the runtime, the bundle, config examples and units, with their modes${needs('dpkg-deb')}`,
    () => {
      const listing = execFileSync('dpkg-deb', ['-c', DEB], { encoding: 'utf8' });
      const entries = new Map(
        listing
          .trim()
          .split('\n')
          .map((line) => {
            const [mode, owner, , , , path] = line.split(/\s+/);
            return [path?.replace(/^\./, ''), `${mode} ${owner}`] as const;
          }),
      );
      const expected: Record<string, string> = {
        '/usr/bin/runlane-agent': '-rwxr-xr-x root/root',
        '/usr/lib/runlane-agent/node': '-rwxr-xr-x root/root',
        '/usr/lib/runlane-agent/runlane-agent.mjs': '-rw-r--r-- root/root',
        '/etc/runlane-agent/runner.json.example': '-rw-r--r-- root/root',
        '/etc/runlane-agent/supervisor.json.example': '-rw-r--r-- root/root',
        '/etc/runlane-agent/worker.json.example': '-rw-r--r-- root/root',
        '/lib/systemd/system/runlane-supervisor.service': '-rw-r--r-- root/root',
        '/lib/systemd/system/runlane-worker.service': '-rw-r--r-- root/root',
        '/lib/systemd/system/runlane-run@.service': '-rw-r--r-- root/root',
        '/usr/share/runlane-agent/systemd/supervisor.service': '-rw-r--r-- root/root',
        '/usr/share/doc/runlane-agent/copyright': '-rw-r--r-- root/root',
      };
      for (const [path, mode] of Object.entries(expected)) expect(entries.get(path), path).toBe(mode);
      // The state folder is the postinst's, not a file of the package: no upgrade or purge touches the spool.
      expect([...entries.keys()].filter((path) => path?.startsWith('/var/'))).toEqual([]);
      const field = (name: string) =>
        execFileSync('dpkg-deb', ['-f', DEB, name], { encoding: 'utf8' }).trim();
      expect(field('Package')).toBe('runlane-agent');
      expect(field('Version')).toBe(packageJson.version);
      expect(field('Architecture')).toBe(ARCH);
      expect(field('Depends')).toMatch(/^adduser, libc6/);
    },
  );

  it.skipIf(!dpkgDeb)(
    `creates the runlane user and a 0700 state folder, keeps the spool on purge, marks the examples as conffiles${needs('dpkg-deb')}`,
    async () => {
      const postinst = await readFile(join(root, 'DEBIAN/postinst'), 'utf8');
      expect(postinst).toMatch(/adduser --system --group .*runlane/);
      expect(postinst).toContain('chown runlane:runlane /var/lib/runlane-agent');
      expect(postinst).toContain('chmod 0700 /var/lib/runlane-agent');
      for (const script of ['postinst', 'prerm', 'postrm']) {
        const text = await readFile(join(root, 'DEBIAN', script), 'utf8');
        expect(text, script).not.toMatch(/rm -[a-z]*r[a-z]* .*\/var\/lib\/runlane-agent/);
        expect(spawnSync('sh', ['-n', join(root, 'DEBIAN', script)]).status, `${script} parses`).toBe(0);
      }
      expect((await readFile(join(root, 'DEBIAN/conffiles'), 'utf8')).trim().split('\n')).toEqual([
        '/etc/runlane-agent/runner.json.example',
        '/etc/runlane-agent/supervisor.json.example',
        '/etc/runlane-agent/worker.json.example',
      ]);
    },
  );

  it.skipIf(!dpkgDeb)(
    `runs the bundle on the runtime it ships; the launcher's settings never reach the command${needs('dpkg-deb')}`,
    async () => {
      const lib = join(root, 'usr/lib/runlane-agent');
      const version = spawnSync(join(lib, 'node'), [join(lib, 'runlane-agent.mjs'), '--version'], {
        encoding: 'utf8',
      });
      expect(version.stdout.trim()).toBe(packageJson.version);
      // The launcher as shipped, its absolute paths pointed at the unpacked tree.
      const launcher = join(work, 'launcher.sh');
      const text = await readFile(join(root, 'usr/bin/runlane-agent'), 'utf8');
      await writeFile(launcher, text.replaceAll('/usr/lib/runlane-agent', lib));
      const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: work, TZ: 'UTC' };
      const run = spawnSync(
        'sh',
        [
          launcher,
          ...smokeRun(
            'echo "arena=[$MALLOC_ARENA_MAX] mmap=[$MALLOC_MMAP_THRESHOLD_] list=[$RUNLANE_AGENT_LAUNCHER_ENV] tz=$TZ"',
            ['--evidence-file', join(work, 'e/stall.jsonl')],
          ),
        ],
        { cwd: work, encoding: 'utf8', env },
      );
      expect(run.stderr).toBe('');
      expect(run.stdout).toBe('arena=[] mmap=[] list=[] tz=UTC\n');
      expect(run.status).toBe(0);
      // A variable the caller set is the caller's: passed on as it was.
      const kept = spawnSync(
        'sh',
        [
          launcher,
          ...smokeRun('echo "arena=[$MALLOC_ARENA_MAX]"', ['--evidence-file', join(work, 'e/stall.jsonl')]),
        ],
        { cwd: work, encoding: 'utf8', env: { ...env, MALLOC_ARENA_MAX: '4' } },
      );
      expect(kept.stdout).toBe('arena=[4]\n');
    },
  );

  it.skipIf(!dpkgDeb)(
    `hardens every unit and runs it as runlane, logging to the journal${needs('dpkg-deb')}`,
    async () => {
      const units = [
        'lib/systemd/system/runlane-supervisor.service',
        'lib/systemd/system/runlane-worker.service',
        'lib/systemd/system/runlane-run@.service',
        'usr/share/runlane-agent/systemd/supervisor.service',
      ];
      for (const unit of units) {
        const text = await readFile(join(root, unit), 'utf8');
        for (const line of [
          'User=runlane',
          'NoNewPrivileges=yes',
          'ProtectSystem=strict',
          'ProtectHome=yes',
          'PrivateTmp=yes',
          'StateDirectory=runlane-agent',
          'StateDirectoryMode=0700',
          'StandardError=journal',
        ])
          expect(text, `${unit}: ${line}`).toMatch(new RegExp(`^${line}$`, 'm'));
        expect(text).toMatch(/^ExecStart=\/usr\/bin\/runlane-agent (supervise|worker|run) /m);
      }
    },
  );

  const analyze = dpkgDeb && has('systemd-analyze') && existsSync('/lib/systemd/system/sysinit.target');
  it.skipIf(!analyze)(
    `systemd-analyze verify passes every unit without a warning${analyze ? '' : needs('systemd-analyze') || ' (skipped: no systemd units to verify against here)'}`,
    async () => {
      // The package's tree beside the host's own units (sysinit.target…), as --root sees a system.
      const system = join(work, 'verify');
      await cp(root, system, { recursive: true });
      await cp('/lib/systemd/system', join(system, 'lib/systemd/system'), {
        recursive: true,
        force: false,
        errorOnExist: false,
      });
      await mkdir(join(system, 'etc/systemd/system'), { recursive: true });
      // `systemctl link` puts the supervisor.service of the package in the search path.
      await copyFile(
        join(system, 'usr/share/runlane-agent/systemd/supervisor.service'),
        join(system, 'etc/systemd/system/supervisor.service'),
      );
      const verify = spawnSync(
        'systemd-analyze',
        [
          'verify',
          `--root=${system}`,
          'lib/systemd/system/runlane-supervisor.service',
          'lib/systemd/system/runlane-worker.service',
          'lib/systemd/system/runlane-run@.service',
          'etc/systemd/system/supervisor.service',
        ],
        { cwd: system, encoding: 'utf8' },
      );
      expect(verify.stderr + verify.stdout).toBe('');
      expect(verify.status).toBe(0);
    },
    60_000,
  );

  const lintian = dpkgDeb && has('lintian');
  it.skipIf(!lintian)(
    `lintian finds no error${lintian ? '' : needs('lintian')}`,
    () => {
      const result = spawnSync('lintian', ['--tag-display-limit', '0', DEB], { encoding: 'utf8' });
      const errors = result.stdout.split('\n').filter((line) => line.startsWith('E:'));
      expect(errors).toEqual([]);
    },
    300_000,
  );
});
