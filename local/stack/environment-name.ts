/** The local stack's environment name (`RUNLANE_ENVIRONMENT`): a module of its own so the auth folder can name local worker roles without importing the stack's options. */
export const LOCAL_ENVIRONMENT = 'local';
