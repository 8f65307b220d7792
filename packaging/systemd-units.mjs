/**
 * The systemd units of the runlane-agent package (packaging/package-deb.mjs), path in the package
 * → text. Logs go to the journal (stdout/stderr): `journalctl -u runlane-supervisor` shows the
 * supervisor's `ShutdownPhase::Completed` and `Panic:` lines, `journalctl -u runlane-worker` the
 * worker's. How `journalctl -u supervisor` (seed 001) works: packaging/README.md.
 */

/** What every agent unit gets: its user, the state folder, the journal, and a locked-down host. */
const hardening = `User=runlane
Group=runlane
# /var/lib/runlane-agent, created 0700 and owned by User= (the postinst makes it too).
StateDirectory=runlane-agent
StateDirectoryMode=0700
WorkingDirectory=/var/lib/runlane-agent
UMask=0077
StandardOutput=journal
StandardError=journal
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
RestrictSUIDSGID=yes
RestrictRealtime=yes
RestrictNamespaces=yes
LockPersonality=yes
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6
SystemCallArchitectures=native
# No capabilities at all (the agent never needs root); no IPC or keyring left behind.
CapabilityBoundingSet=
AmbientCapabilities=
RemoveIPC=yes
KeyringMode=private
# Children a config runs that must write elsewhere: a drop-in with ReadWritePaths=.`;

/** The supervisor's unit under `name` (it runs `runlane-agent supervise`). */
function supervisorUnit(extra) {
  return `[Unit]
Description=Runlane supervisor (runlane-agent supervise)
Documentation=file:///usr/share/doc/runlane-agent/README.md
After=network-online.target
Wants=network-online.target
ConditionPathExists=/etc/runlane-agent/supervisor.json
${extra.unit}
[Service]
Type=exec
ExecStart=/usr/bin/runlane-agent supervise --config /etc/runlane-agent/supervisor.json
# SIGTERM to the supervisor alone: it drains and stops its children's trees itself (exit 0), then
# systemd kills whatever is left.
KillMode=mixed
TimeoutStopSec=90
Restart=on-failure
RestartSec=5
# The control socket (dashboard.path of the example config): /run/runlane-agent/supervisor.sock.
RuntimeDirectory=runlane-agent
RuntimeDirectoryMode=0700
RuntimeDirectoryPreserve=restart
${hardening}

[Install]
WantedBy=multi-user.target
`;
}

export const systemdUnits = {
  '/lib/systemd/system/runlane-supervisor.service': supervisorUnit({ unit: '' }),
  // The same supervisor under the name seed 001 uses (`journalctl -u supervisor`), for hosts with
  // no other unit of that name (Debian's supervisor package has one): systemctl link, then enable.
  '/usr/share/runlane-agent/systemd/supervisor.service': supervisorUnit({
    unit: 'Conflicts=runlane-supervisor.service\n',
  }),
  '/lib/systemd/system/runlane-worker.service': `[Unit]
Description=Runlane worker (runlane-agent worker)
Documentation=file:///usr/share/doc/runlane-agent/README.md
After=network-online.target
Wants=network-online.target
ConditionPathExists=/etc/runlane-agent/worker.json

[Service]
Type=exec
ExecStart=/usr/bin/runlane-agent worker --config /etc/runlane-agent/worker.json
# SIGTERM: stop polling, finish the task in hand (shutdownGraceMs), hand its result over, exit 0.
KillMode=mixed
TimeoutStopSec=90
Restart=on-failure
RestartSec=5
${hardening}

[Install]
WantedBy=multi-user.target
`,
  // A watched run per instance, e.g. from a timer: runlane-run@backup.service reads
  // /etc/runlane-agent/run/backup.env (RUNLANE_ENVIRONMENT=prod, RUNLANE_COMMAND=/usr/local/bin/backup --full).
  '/lib/systemd/system/runlane-run@.service': `[Unit]
Description=Runlane watched run %i (runlane-agent run)
Documentation=file:///usr/share/doc/runlane-agent/README.md
After=network-online.target
Wants=network-online.target
ConditionPathExists=/etc/runlane-agent/run/%i.env

[Service]
Type=exec
EnvironmentFile=/etc/runlane-agent/run/%i.env
ExecStart=/usr/bin/runlane-agent run --environment \${RUNLANE_ENVIRONMENT} --command-type %i -- $RUNLANE_COMMAND
KillMode=mixed
TimeoutStopSec=60
${hardening}
`,
};
