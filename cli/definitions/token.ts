import { type Command, InvalidArgumentError, Option } from '@commander-js/extra-typings';
import { HOUSEHOLD_ROLES } from '#contracts/identity.js';
import { exitCodes } from '../help.js';
import { apiUrlOption, jsonOption, wholeNumber } from '../options.js';
import { namedErrors, type ProgramContext, runs } from './context.js';

/** A token lives at most a day (Cognito's ID tokens: 5 minutes to 1 day). */
const MAX_TTL_SECONDS = 86_400;

/** `runlane token`: a household user's JWT the local stack accepts. */
export function addTokenCommand(program: Command, { exit }: ProgramContext): void {
  const command = namedErrors(program.command('token'))
    .summary("a household user's token for the local stack's household routes")
    .description(
      "Prints a JWT of the local stack's issuer for a user of a household: what household routes " +
        "(/api/v1/agent/…) want as Authorization: Bearer <token>. Signed with the key in the stack's " +
        "auth folder (authDir in /_local/info), with the household and role claims API Gateway's JWT " +
        'authorizer passes on. Example: curl -H "authorization: Bearer $(npx runlane token --household h1)" ' +
        'http://127.0.0.1:3000/api/v1/agent/runs?correlationId=<id>.',
    )
    .addOption(
      new Option('--household <id>', 'the household the user belongs to')
        .argParser(householdId)
        .makeOptionMandatory(),
    )
    .addOption(
      new Option('--role <role>', 'approver may decide approvals')
        .choices(HOUSEHOLD_ROLES)
        .default('member' as const),
    )
    .addOption(
      new Option(
        '--subject <subject>',
        "the user, the token's sub (an approval's decidedBy); default <role>@<household>",
      ),
    )
    .addOption(
      new Option('--ttl <seconds>', 'how long the token is good for')
        .argParser(wholeNumber(1, MAX_TTL_SECONDS))
        .default(3600),
    )
    .addOption(apiUrlOption())
    .addOption(jsonOption('{ token, expiresAt, householdId, role, subject }'));
  exitCodes(command, {
    0: 'the token was printed',
    1: 'no local stack answers, or its auth folder cannot be read',
  });
  command.action(runs(exit, async (options) => (await import('../commands/token.js')).runToken(options)));
}

function householdId(value: string): string {
  if (value.trim() === '') throw new InvalidArgumentError('Expected a household id.');
  return value;
}
