/**
 * `runlane` CLI entry point. Checks the Node version before loading anything
 * else (the emulators and the AWS SDK need Node 24), then runs the command.
 */
const REQUIRED_NODE_MAJOR = 24;
const major = Number(process.versions.node.split('.')[0]);
if (major < REQUIRED_NODE_MAJOR) {
  console.error(
    `runlane needs Node ${REQUIRED_NODE_MAJOR} or newer; this is ${process.version}. ` +
      'Run it through npm (npm start, npm run demo), which uses the Node pinned in devDependencies, or install Node 24.',
  );
  process.exit(1);
}
const { exitQuietlyOnClosedPipe } = await import('#common/cli-program.js');
// `runlane trace … | head`: the reader may close the pipe before everything is written.
exitQuietlyOnClosedPipe();
const { runCli } = await import('./program.js');
process.exitCode = await runCli(process.argv.slice(2));
