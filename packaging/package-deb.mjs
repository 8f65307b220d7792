#!/usr/bin/env node
/**
 * `npm run package:agent` (after `npm run build:agent`): dist/runlane-agent_<version>_<arch>.deb,
 * self-contained. Hosts need no Node install: the package ships the Node.js runtime of the `node`
 * devDependency (stripped) at /usr/lib/runlane-agent/node beside the bundle, and
 * /usr/bin/runlane-agent is a small sh launcher (packaging/launcher.json) that execs it. A Node
 * single executable application is the same binary with the bundle injected (postject): the same
 * size and an extra build tool; shipping the binary beside the bundle is simpler.
 *
 * Built with `dpkg-deb --root-owner-group -Zxz` from a staging tree (dist/deb/…), no fpm.
 * Contents: see packaging/README.md. `--fast`: xz -1 instead of -6 (tests; a larger .deb).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import launcher from './launcher.json' with { type: 'json' };
import { systemdUnits } from './systemd-units.mjs';

const root = fileURLToPath(new URL('../', import.meta.url));
const packageJson = JSON.parse(await readFile(join(root, 'package.json'), 'utf8'));
const NAME = 'runlane-agent';
const VERSION = packageJson.version;
const ARCH = { x64: 'amd64', arm64: 'arm64' }[process.arch];
if (ARCH === undefined) throw new Error(`no Debian architecture for ${process.arch}`);
const LIB = `/usr/lib/${NAME}`;
const STATE = `/var/lib/${NAME}`;
const ETC = `/etc/${NAME}`;

const bundle = join(root, 'dist/agent/runlane-agent.mjs');
if (!existsSync(bundle)) throw new Error(`${relative(root, bundle)} is missing: npm run build:agent first`);
// The `node` devDependency: the runtime the package ships (Node by major, see engines).
const nodeBinary = join(root, 'node_modules/node/bin/node');
const nodeVersion = execFileSync(nodeBinary, ['--version'], { encoding: 'utf8' }).trim();
if (Number(/^v(\d+)\./.exec(nodeVersion)?.[1]) < 24)
  throw new Error(`${nodeBinary} is ${nodeVersion}, not >= 24`);

const staging = join(root, 'dist/deb', `${NAME}_${VERSION}_${ARCH}`);
const output = join(root, 'dist', `${NAME}_${VERSION}_${ARCH}.deb`);
await rm(staging, { recursive: true, force: true });

/** Writes `text` at `path` inside the staging tree with `mode`. */
async function put(path, text, mode = 0o644) {
  const file = join(staging, path);
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, text);
  await chmod(file, mode);
}

// The runtime, stripped (lintian: unstripped-binary-or-object; 129 → 112 MB), and the bundle.
await mkdir(join(staging, LIB), { recursive: true });
if (commandExists('strip'))
  execFileSync('strip', ['--strip-all', '-o', join(staging, LIB, 'node'), nodeBinary]);
else await copyFile(nodeBinary, join(staging, LIB, 'node'));
await chmod(join(staging, LIB, 'node'), 0o755);
await put(`${LIB}/runlane-agent.mjs`, await readFile(bundle));

// The launcher: the settings of launcher.json, each environment variable only when unset, and the
// names it set in RUNLANE_AGENT_LAUNCHER_ENV so the agent drops them before running a command.
const envLines = Object.entries(launcher.env).flatMap(([name, value]) => [
  `if [ -z "\${${name}+set}" ]; then ${name}=${value}; export ${name}; launcher_env="$launcher_env ${name}"; fi`,
]);
await put(
  '/usr/bin/runlane-agent',
  `#!/bin/sh
# runlane-agent ${VERSION}: the agent bundle on the Node.js runtime this package ships (${nodeVersion}).
# Settings: packaging/launcher.json of the Runlane repository.
launcher_env=
${envLines.join('\n')}
RUNLANE_AGENT_LAUNCHER_ENV=$launcher_env
export RUNLANE_AGENT_LAUNCHER_ENV
# run and spool read the host's runner config when it exists (--config still wins).
if [ -z "\${RUNLANE_RUNNER_CONFIG:-}" ] && [ -e ${ETC}/runner.json ]; then
  RUNLANE_RUNNER_CONFIG=${ETC}/runner.json
  export RUNLANE_RUNNER_CONFIG
fi
exec ${LIB}/node ${launcher.nodeArgs.join(' ')} ${LIB}/runlane-agent.mjs "$@"
`,
  0o755,
);

// Config examples, with the host's paths. Real configs are the admin's: copy to <name>.json.
const hostPaths = (text) =>
  text.replaceAll('/var/lib/runlane/', `${STATE}/`).replaceAll('/run/runlane/', `/run/${NAME}/`);
const runner = JSON.parse(await readFile(join(root, 'config/runner.json'), 'utf8'));
runner.evidenceFile = `${STATE}/evidence/stall-events.jsonl`;
runner.reporting = { ...runner.reporting, spoolDirectory: `${STATE}/spool` };
const supervisor = JSON.parse(
  hostPaths(await readFile(join(root, 'config/supervisor.example.json'), 'utf8')),
);
supervisor.crashReportDirectory = `${STATE}/crash-reports`;
supervisor.reporting = { ...supervisor.reporting, spoolDirectory: `${STATE}/supervisor-spool` };
const worker = hostPaths(await readFile(join(root, 'config/worker.example.json'), 'utf8'));
const examples = {
  'runner.json.example': `${JSON.stringify(runner, null, 2)}\n`,
  'supervisor.json.example': `${JSON.stringify(supervisor, null, 2)}\n`,
  'worker.json.example': worker,
};
for (const [name, text] of Object.entries(examples)) await put(`${ETC}/${name}`, text);

// systemd units (packaging/systemd-units.mjs).
for (const [path, text] of Object.entries(systemdUnits)) await put(path, text);

// Documentation: copyright (Runlane, Node.js, and every package in the bundle), changelog, README.
const meta = JSON.parse(await readFile(`${bundle}.meta.json`, 'utf8'));
await put(`/usr/share/doc/${NAME}/copyright`, copyright(bundledPackages(meta)));
await put(
  `/usr/share/doc/${NAME}/changelog.gz`,
  gzipSync(
    `${NAME} (${VERSION}) unstable; urgency=medium\n\n  * Packaged from the Runlane repository (npm run package:agent).\n\n -- Runlane <runlane@runlane.invalid>  ${debianDate()}\n`,
    { level: 9 },
  ),
);
// Lintian overrides, each with its reason.
await put(
  `/usr/share/lintian/overrides/${NAME}`,
  `# Node.js links its own zlib (and OpenSSL, ICU…) statically: the runtime is the upstream binary.
${NAME}: embedded-library zlib [usr/lib/${NAME}/node]
# The upstream Node.js build is not position independent; the package ships it as released.
${NAME}: hardening-no-pie [usr/lib/${NAME}/node]
`,
);
await put(`/usr/share/doc/${NAME}/README.md`, await readFile(join(root, 'packaging/README.md')));

// Maintainer scripts and control files.
await put(
  '/DEBIAN/conffiles',
  `${Object.keys(examples)
    .map((name) => `${ETC}/${name}`)
    .join('\n')}\n`,
);
await put(
  '/DEBIAN/postinst',
  `#!/bin/sh
set -e
if [ "$1" = configure ]; then
  # The agent's user: no login, no home of its own beyond the state folder.
  if ! getent passwd runlane >/dev/null; then
    adduser --system --group --quiet --home ${STATE} --no-create-home runlane
  fi
  # Spools, evidence and crash reports: the agent's alone (0700). Not a file of the package, so
  # neither an upgrade nor a removal or purge touches what is in it.
  mkdir -p ${STATE}
  chown runlane:runlane ${STATE}
  chmod 0700 ${STATE}
fi
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload >/dev/null 2>&1 || true
  # An upgrade restarts the units that were running; a first install starts nothing (configs first).
  if [ "$1" = configure ] && [ -n "$2" ]; then
    systemctl try-restart runlane-supervisor.service runlane-worker.service >/dev/null 2>&1 || true
  fi
fi
exit 0
`,
  0o755,
);
await put(
  '/DEBIAN/prerm',
  `#!/bin/sh
set -e
if [ "$1" = remove ] && [ -d /run/systemd/system ]; then
  systemctl stop runlane-supervisor.service runlane-worker.service >/dev/null 2>&1 || true
fi
exit 0
`,
  0o755,
);
await put(
  '/DEBIAN/postrm',
  `#!/bin/sh
set -e
# ${STATE} (spools of events not yet delivered, evidence, crash reports) is kept on remove AND
# purge: delete it by hand once it is no longer needed. The runlane user is kept too (Debian policy).
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload >/dev/null 2>&1 || true
fi
exit 0
`,
  0o755,
);
const installedKiB = Number(
  execFileSync('du', ['-sk', '--exclude=DEBIAN', staging], { encoding: 'utf8' }).split('\t')[0],
);
await put(
  '/DEBIAN/control',
  `Package: ${NAME}
Version: ${VERSION}
Architecture: ${ARCH}
Maintainer: Runlane <runlane@runlane.invalid>
Installed-Size: ${installedKiB}
Depends: adduser, ${await sharedLibraryDepends(join(staging, LIB, 'node'))}
Section: admin
Priority: optional
Description: Runlane's on-host agent, with its own Node.js runtime
 runlane-agent runs commands under an idle and a hard watchdog and reports
 their stalls (run, spool), supervises long-running children with restart
 policies and a control socket (supervise, ctl), and executes a site's worker
 tasks (worker). Events the control plane does not acknowledge wait in an
 offline spool under ${STATE}.
 .
 The package ships the Node.js runtime it runs on (${nodeVersion}) and systemd
 units for the supervisor and the worker.
`,
);

await mkdir(dirname(output), { recursive: true });
const fast = process.argv.includes('--fast');
execFileSync('dpkg-deb', ['--root-owner-group', '-Zxz', `-z${fast ? 1 : 6}`, '--build', staging, output], {
  stdio: ['ignore', 'ignore', 'inherit'],
});
const bytes = (await stat(output)).size;
console.log(
  `${relative(process.cwd(), output)}: ${(bytes / 1024 / 1024).toFixed(1)} MiB (installed ${(installedKiB / 1024).toFixed(0)} MiB)`,
);

function commandExists(command) {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** The runtime's shared library dependencies (dpkg-shlibdeps when dpkg-dev is there). */
async function sharedLibraryDepends(binary) {
  const fallback = 'libc6 (>= 2.28), libgcc-s1 (>= 3.4), libstdc++6 (>= 10)';
  if (!commandExists('dpkg-shlibdeps')) return fallback;
  const dir = await mkdtemp(join(tmpdir(), 'runlane-shlibdeps-'));
  try {
    await mkdir(join(dir, 'debian'));
    await writeFile(join(dir, 'debian/control'), `Source: ${NAME}\n\nPackage: ${NAME}\nArchitecture: any\n`);
    const out = execFileSync('dpkg-shlibdeps', ['-O', `-e${binary}`], {
      cwd: dir,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    return /shlibs:Depends=(.*)/.exec(out)?.[1]?.trim() || fallback;
  } catch {
    return fallback;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** name → license of every npm package with code in the bundle. */
function bundledPackages(metafile) {
  const packages = new Map();
  for (const output of Object.values(metafile.outputs))
    for (const input of Object.keys(output.inputs)) {
      const match = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input);
      if (match === null || packages.has(match[1])) continue;
      let license = 'see the package';
      try {
        const manifest = JSON.parse(
          readFileSync(join(root, 'node_modules', match[1], 'package.json'), 'utf8'),
        );
        license = typeof manifest.license === 'string' ? manifest.license : license;
        packages.set(match[1], `${manifest.version} ${license}`);
      } catch {
        packages.set(match[1], license);
      }
    }
  return [...packages].sort(([a], [b]) => a.localeCompare(b));
}

function copyright(packages) {
  return `Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: runlane-agent
Comment: Built from the Runlane repository. /usr/lib/${NAME}/runlane-agent.mjs bundles these npm
 packages (name, version, license):
${packages.map(([name, what]) => ` ${name} ${what}`).join('\n')}

Files: *
Copyright: Runlane authors
License: UNLICENSED
 Private project (package.json "private": true).

Files: usr/lib/${NAME}/node
Copyright: Node.js contributors and third-party contributors
License: Expat
 Node.js ${nodeVersion} (https://nodejs.org), whose LICENSE file lists the licenses of the
 third-party code it includes.
 .
 Permission is hereby granted, free of charge, to any person obtaining a copy
 of this software and associated documentation files (the "Software"), to deal
 in the Software without restriction, including without limitation the rights
 to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
 copies of the Software, and to permit persons to whom the Software is
 furnished to do so, subject to the following conditions:
 .
 The above copyright notice and this permission notice shall be included in
 all copies or substantial portions of the Software.
 .
 THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
 IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
 FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
 AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
 LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
 OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN
 THE SOFTWARE.
`;
}

/** RFC 2822 date of the last commit (reproducible), or now. */
function debianDate() {
  try {
    const seconds = execFileSync('git', ['log', '-1', '--format=%ct'], {
      cwd: root,
      encoding: 'utf8',
    }).trim();
    if (seconds !== '')
      return execFileSync('date', ['-R', '-u', '-d', `@${seconds}`], { encoding: 'utf8' }).trim();
  } catch {}
  return execFileSync('date', ['-R', '-u'], { encoding: 'utf8' }).trim();
}
