import { Argument, type Command, InvalidArgumentError, Option } from '@commander-js/extra-typings';
import { EXIT_HTTP_ERROR } from '../exit-codes.js';
import { exitCodes } from '../help.js';
import { apiUrlOption, envOption, jsonOption } from '../options.js';
import { namedErrors, type ProgramContext, runs } from './context.js';

const METHODS = ['GET', 'POST', 'PUT'] as const;

/** `runlane api <method> <path>`: one signed request to the command API, its answer printed. */
export function addApiCommand(program: Command, { exit }: ProgramContext): void {
  const command = namedErrors(program.command('api'))
    .summary('one request to the command API, signed; prints the answer')
    .description(
      'Sends one request to the command API and prints the answer body (JSON) on stdout. Signed with ' +
        "SigV4 (execute-api) as operator routes want: the local stack's operator credentials (its auth " +
        "folder, authDir in /_local/info), or with --env the SDK's default credentials against the " +
        'ApiUrl output of stack Runlane-<env>. With --household the request carries a token of the ' +
        'local issuer instead (household routes, /api/v1/agent/…; local stack only). Examples: ' +
        'runlane api GET /api/v1/runs/<runId>; runlane api GET "/api/v1/review-queue?limit=10"; ' +
        'runlane api POST /api/v1/agent/conversations/c1/messages --household h1 --data \'{"text":"hi"}\'.',
    )
    .addArgument(new Argument('<method>', 'the HTTP method').choices(METHODS).argParser(httpMethod))
    .addArgument(new Argument('<path>', 'the path and query, from /api/…').argParser(apiPath))
    .addOption(new Option('--data <json>', 'the request body, JSON').argParser(jsonBody))
    .addOption(new Option('--idempotency-key <key>', 'sent as the Idempotency-Key header'))
    .addOption(
      new Option('--household <id>', 'as a user of this household (a local token), not as an operator'),
    )
    .addOption(
      new Option('--role <role>', 'with --household: the role in the token')
        .choices(['member', 'approver'] as const)
        .default('member' as const),
    )
    .addOption(apiUrlOption())
    .addOption(envOption())
    .addOption(jsonOption('{ status, body } on stdout, whatever the status'));
  exitCodes(command, {
    0: 'the API answered 2xx',
    1: 'no answer: no local stack, the stack could not be read, or the request could not be signed',
    [EXIT_HTTP_ERROR]: 'the API answered 4xx or 5xx (the body is printed all the same)',
  });
  command.action(
    runs(exit, async (method, path, options) =>
      (await import('../commands/api.js')).runApi(method, path, options),
    ),
  );
}

function httpMethod(value: string): (typeof METHODS)[number] {
  const upper = value.toUpperCase();
  if (!(METHODS as readonly string[]).includes(upper)) {
    throw new InvalidArgumentError(`Expected one of ${METHODS.join(', ')}.`);
  }
  return upper as (typeof METHODS)[number];
}

/** A path from the root; `api/v1/runs/x` is read as `/api/v1/runs/x`. */
function apiPath(value: string): string {
  if (value.trim() === '') throw new InvalidArgumentError('Expected a path, e.g. /api/v1/runs/<runId>.');
  return value.startsWith('/') ? value : `/${value}`;
}

function jsonBody(value: string): unknown {
  try {
    return JSON.parse(value);
  } catch (error) {
    throw new InvalidArgumentError(`Expected JSON (${(error as Error).message}).`);
  }
}
