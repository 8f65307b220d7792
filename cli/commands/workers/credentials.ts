import { workerRoleName } from '#contracts/identity.js';
import { LOCAL_ACCOUNT_ID, localCredentials } from '#local/auth/local-auth.js';
import { readLocalAuthInfo } from '#local/demo/local-api.js';
import { LOCAL_ENVIRONMENT } from '#local/stack/options.js';
import { describeError } from './api-client.js';

/** The options of `runlane workers credentials` (cli/definitions/workers.ts). */
export interface WorkersCredentialsOptions {
  readonly site: string;
  readonly workerId: string;
  readonly apiUrl: string;
  readonly json?: boolean | undefined;
}

/**
 * `runlane workers credentials`: a local worker host's credentials (its site's worker role,
 * session = its worker id) from the local stack's auth folder, as `export` lines.
 *
 * @example
 * process.exitCode = await runWorkersCredentials({ site: 'lab', workerId: 'lab-1', apiUrl: 'http://127.0.0.1:3000' });
 */
export async function runWorkersCredentials(options: WorkersCredentialsOptions): Promise<number> {
  let credentials: { accessKeyId: string; secretAccessKey: string };
  try {
    const { authDir } = await readLocalAuthInfo(options.apiUrl);
    credentials = await localCredentials(authDir, {
      kind: 'worker',
      site: options.site,
      workerId: options.workerId,
    });
  } catch (error) {
    console.error(`runlane workers: ${describeError(error)}`);
    return 1;
  }
  const arn = `arn:aws:sts::${LOCAL_ACCOUNT_ID}:assumed-role/${workerRoleName(LOCAL_ENVIRONMENT, options.site)}/${options.workerId}`;
  if (options.json) {
    console.log(
      JSON.stringify({ ...credentials, arn, site: options.site, workerId: options.workerId }, null, 2),
    );
  } else {
    console.log(`export AWS_ACCESS_KEY_ID='${credentials.accessKeyId}'`);
    console.log(`export AWS_SECRET_ACCESS_KEY='${credentials.secretAccessKey}'`);
    console.log('unset AWS_SESSION_TOKEN');
  }
  return 0;
}
