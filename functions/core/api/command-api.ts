import { createHash, randomUUID } from 'node:crypto';
import type { ZodType } from 'zod';
import * as z from 'zod';
import {
  API_ROUTES,
  type ApiMethod,
  compileRoutePath,
  type RouteGroup,
  type RouteName,
} from '#contracts/api-routes.js';
import {
  type CommandEnvelope,
  conversationalCorrelationId,
  ENVELOPE_SCHEMA_VERSION,
} from '#contracts/envelope.js';
import { laneForCommandType } from '#contracts/lanes.js';
import type { RunRecord, Signal } from '#contracts/lifecycle.js';
import type { Clock } from '../base/clock.js';
import { approvalDecisionPayloadSchema } from '../commands/agent-approval-decided.js';
import { agentMessagePayloadSchema } from '../commands/agent-message-posted.js';
import { APPROVAL_ID_PATTERN } from '../commands/proposals.js';
import type { LifecycleStore } from '../lifecycle/ports.js';
import type { CommandQueue } from '../queues/ports.js';
import { type MetricsRecorder, noopMetricsRecorder } from '../telemetry/ports.js';
import { ApiRequestError } from './api-errors.js';
import {
  type ApiAuthorization,
  type AuthorizedCaller,
  authorizeRoute,
  CREDENTIALS_FIELD,
  callerScope,
} from './caller.js';
import {
  type ApiRequest,
  type ApiResponse,
  clientError,
  decodePathSegment,
  json,
  pathParam,
  type RouteHandler,
  readJson,
  validate,
} from './http.js';
import type { ApprovalReader, ClaimClientKeyResult, ClientKeyStore } from './ports.js';
import { createWorkerApi, type WorkerApiOptions } from './worker-api.js';

/** The parts of an HTTP request the API reads; the Lambda and local adapters build it. */
export type { ApiRequest, ApiResponse } from './http.js';

export interface ApiLogger {
  info(message: string, extra?: Record<string, unknown>): void;
  warn(message: string, extra?: Record<string, unknown>): void;
  error(message: string, extra?: Record<string, unknown>): void;
}

export interface CommandApiOptions {
  readonly queue: CommandQueue;
  readonly clientKeys: ClientKeyStore;
  readonly runs: Pick<LifecycleStore, 'getRun' | 'findRunsByCorrelationId' | 'listReviewQueue'>;
  /** Where a decision's approval is looked up: its household and conversation. */
  readonly approvals: ApprovalReader;
  /**
   * `API_AUTHORIZATION`: with `none` (sandbox only) anonymous callers of operator and worker
   * routes are let through (caller.ts); household routes always need a JWT.
   * @default 'iam'
   */
  readonly authorization?: ApiAuthorization;
  readonly clock: Clock;
  readonly logger: ApiLogger;
  /** Bodies over this many bytes get 413. */
  readonly maxBodyBytes: number;
  /** Errors the read-model store throws for a bad cursor, mapped to 400 `query.cursor`. */
  readonly isInvalidCursorError?: (error: unknown) => boolean;
  /**
   * Errors a store throws for a value it cannot hold as sent (an item past DynamoDB's size, a
   * value it refuses): the request's doing, whatever validation let through, so 400 `body`.
   */
  readonly isUnstorableInputError?: (error: unknown) => boolean;
  /**
   * Where `CommandsAccepted` goes, per lane (metrics.ts).
   * @default noopMetricsRecorder
   */
  readonly metrics?: MetricsRecorder;
  /** The `/api/workers/*` routes' stores, queue and settings (seed 004). */
  readonly workers: WorkerApiOptions;
}

const ID_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;
const IDEMPOTENCY_KEY_PATTERN = /^[A-Za-z0-9_.:-]{1,128}$/;
export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key';

/** A body may name the caller's household (the token's); any other is refused with 403. */
const householdIdField = z.string().regex(ID_PATTERN, 'must be 1-128 letters, digits, _ or -').optional();

const messageBodySchema = z
  .object({ householdId: householdIdField })
  .extend(agentMessagePayloadSchema.shape)
  .strict();

const approvalDecisionFields = approvalDecisionPayloadSchema.omit({ approvalId: true });
/** `decidedBy` is the token's subject; a body naming anyone else is refused with 403. */
const approvalBodySchema = z
  .object({ householdId: householdIdField })
  .extend(approvalDecisionFields.shape)
  .extend({ decidedBy: approvalDecisionFields.shape.decidedBy.optional() })
  .strict();

const RUN_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const reviewQueueQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(25),
  cursor: z.string().min(1).max(2048).optional(),
});

interface Route {
  readonly method: ApiMethod;
  readonly group: RouteGroup;
  readonly pattern: RegExp;
  readonly params: readonly string[];
  readonly handle: RouteHandler;
}

/**
 * The API: POST routes only validate and enqueue (seed 003 guardrail); GET
 * routes serve read models. Every client mistake is a 4xx naming its field
 * path; anything else is a 500 that carries the request id and nothing more.
 *
 * Each route admits its group's callers only (`authorizeRoute`, DESIGN §7): household users
 * post and read for the household of their token, and decide approvals with the approver role as
 * the token's subject; operators read any household; a worker host calls its own site's routes
 * as the worker its role session names.
 *
 * @example
 * const api = createCommandApi({ queue, clientKeys, runs, approvals, clock: systemClock, logger, maxBodyBytes: 32_768, workers });
 * const response = await api({ method: 'GET', path: '/api/v1/review-queue', headers: {}, query: {}, requestId: 'r1', caller });
 */
export function createCommandApi(options: CommandApiOptions): (request: ApiRequest) => Promise<ApiResponse> {
  const metrics = options.metrics ?? noopMetricsRecorder;
  const authorization = options.authorization ?? 'iam';
  const handlers: Record<RouteName, RouteHandler> = {
    postMessage,
    postApproval,
    getHouseholdRun,
    listHouseholdRuns,
    getRun,
    listRuns: listRunsByCorrelation,
    reviewQueue: getReviewQueue,
    ...createWorkerApi(options.workers, {
      clock: options.clock,
      maxBodyBytes: options.maxBodyBytes,
      logger: options.logger,
    }),
  };
  const routes: Route[] = (Object.keys(API_ROUTES) as RouteName[]).map((name) => ({
    method: API_ROUTES[name].method,
    group: API_ROUTES[name].group,
    ...compileRoutePath(API_ROUTES[name].path),
    handle: handlers[name],
  }));

  return async function handle(request: ApiRequest): Promise<ApiResponse> {
    try {
      const path = request.path.length > 1 ? request.path.replace(/\/+$/, '') : request.path;
      const matching = routes
        .map((route) => ({ route, match: route.pattern.exec(path) }))
        .filter((m): m is { route: Route; match: RegExpExecArray } => m.match !== null);
      if (matching.length === 0)
        throw ApiRequestError.single(404, 'route_not_found', 'path', `no route ${path}`);
      const found = matching.find((m) => m.route.method === request.method.toUpperCase());
      if (!found) {
        const allowed = matching.map((m) => m.route.method).join(', ');
        return json(
          405,
          { error: 'method_not_allowed', fieldPath: 'method', message: `use ${allowed}` },
          { allow: allowed },
        );
      }
      const params: Record<string, string> = {};
      try {
        found.route.params.forEach((name, index) => {
          params[name] = decodePathSegment(found.match[index + 1] ?? '');
        });
      } catch (malformed) {
        // API Gateway authorizes before anything reads the path: a caller of the wrong kind hears
        // that (401/403) first, any other the 400.
        const own = request.caller.kind === 'worker' ? request.caller.site : undefined;
        authorizeRoute(found.route.group, request.caller, { authorization, site: own });
        throw malformed;
      }
      const caller = authorizeRoute(found.route.group, request.caller, {
        authorization,
        site: params.site,
      });
      return await found.route.handle(request, params, caller);
    } catch (error) {
      if (error instanceof ApiRequestError) return clientError(error);
      if (options.isInvalidCursorError?.(error)) {
        return clientError(
          ApiRequestError.single(
            400,
            'invalid_cursor',
            'query.cursor',
            'cursor is not one this API returned',
          ),
        );
      }
      if (options.isUnstorableInputError?.(error)) {
        options.logger.warn('request body could not be stored', {
          requestId: request.requestId,
          method: request.method,
          path: request.path,
          error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
        });
        return clientError(
          ApiRequestError.single(
            400,
            'unstorable_body',
            'body',
            'the body cannot be stored as sent (too large once stored, or holding a value the store refuses)',
          ),
        );
      }
      options.logger.error('request failed', {
        requestId: request.requestId,
        method: request.method,
        path: request.path,
        error:
          error instanceof Error
            ? { name: error.name, message: error.message, stack: error.stack }
            : String(error),
      });
      return json(500, {
        error: 'internal_error',
        message: 'the request could not be completed',
        requestId: request.requestId,
      });
    }
  };

  async function postMessage(
    request: ApiRequest,
    params: Record<string, string>,
    caller: AuthorizedCaller,
  ): Promise<ApiResponse> {
    const user = householdCaller(caller);
    const conversationId = pathParam(params, 'conversationId', ID_PATTERN);
    const body = readJsonBody(request, messageBodySchema);
    const { householdId, authorId, ...rest } = body;
    checkBodyHousehold(householdId, user);
    // The author is the token's subject, like an approval's decidedBy: a body naming someone else is refused.
    if (authorId !== undefined && authorId !== user.subject) {
      throw ApiRequestError.single(
        403,
        'author_mismatch',
        'body.authorId',
        "a message is written by the token's subject; leave authorId out or name the subject",
      );
    }
    const author = messageBodySchema.shape.authorId.safeParse(user.subject);
    const payload = author.success && author.data !== undefined ? { ...rest, authorId: author.data } : rest;
    return enqueue(request, user, {
      commandType: API_ROUTES.postMessage.commandType,
      householdId: user.householdId,
      conversationId,
      payload,
    });
  }

  /**
   * A decision by an approver of the approval's household, in the approval's conversation, as the
   * token's subject. The approval is read first (one GetItem): an unknown one, or another
   * household's, is 404 (ids do not leak across households); another conversation's is 403. The
   * lane worker's decide condition checks household and conversation again.
   */
  async function postApproval(
    request: ApiRequest,
    params: Record<string, string>,
    caller: AuthorizedCaller,
  ): Promise<ApiResponse> {
    const user = householdCaller(caller);
    if (user.role !== 'approver') {
      throw ApiRequestError.single(
        403,
        'approver_role_required',
        CREDENTIALS_FIELD,
        'deciding an approval needs the approver role',
      );
    }
    const conversationId = pathParam(params, 'conversationId', ID_PATTERN);
    const approvalId = pathParam(params, 'approvalId', APPROVAL_ID_PATTERN);
    const body = readJsonBody(request, approvalBodySchema);
    const { householdId, decidedBy, ...decision } = body;
    checkBodyHousehold(householdId, user);
    if (decidedBy !== undefined && decidedBy !== user.subject) {
      throw ApiRequestError.single(
        403,
        'decided_by_mismatch',
        'body.decidedBy',
        "a decision is made by the token's subject; leave decidedBy out or name the subject",
      );
    }
    const decider = approvalDecisionFields.shape.decidedBy.safeParse(user.subject);
    if (!decider.success) {
      throw ApiRequestError.single(
        403,
        'subject_unusable',
        CREDENTIALS_FIELD,
        "the token's subject cannot name a decider (1-128 characters)",
      );
    }
    const approval = await options.approvals.getApproval(approvalId);
    if (!approval || approval.householdId !== user.householdId) {
      throw ApiRequestError.single(
        404,
        'approval_not_found',
        'path.approvalId',
        `no approval ${approvalId} in your household`,
      );
    }
    if (approval.conversationId !== conversationId) {
      throw ApiRequestError.single(
        403,
        'conversation_mismatch',
        'path.conversationId',
        `approval ${approvalId} belongs to another conversation`,
      );
    }
    return enqueue(request, user, {
      commandType: API_ROUTES.postApproval.commandType,
      householdId: user.householdId,
      conversationId,
      payload: { approvalId, ...decision, decidedBy: decider.data },
    });
  }

  /**
   * Sends the command to its lane and answers 202 once the envelope is there (never before).
   *
   * With an `Idempotency-Key` the key is claimed first (one conditional put). A claimed key only
   * names the command; it never says the command was queued, since the claimer may still be
   * sending, may have failed to send, or may have died before sending. So a retry that finds the
   * key (same request) answers 202 only when the command's run exists (a lane worker received it)
   * or after it has sent the same envelope again itself: same commandId, correlationId and
   * issuedAt, and the rest comes from the request, which the key's request hash pins. Lane
   * workers dedupe by commandId, so a second copy completes without reprocessing. A failed send
   * leaves the key in place (a retry re-sends under it) instead of releasing it: a release
   * racing a retry's successful re-send would let a later retry claim the key afresh and enqueue
   * the command a second time under a new commandId.
   */
  async function enqueue(
    request: ApiRequest,
    caller: AuthorizedCaller,
    command: CommandRequest,
  ): Promise<ApiResponse> {
    const clientKey = request.headers[IDEMPOTENCY_KEY_HEADER];
    if (clientKey !== undefined && !IDEMPOTENCY_KEY_PATTERN.test(clientKey)) {
      throw ApiRequestError.single(
        400,
        'invalid_idempotency_key',
        `headers.${IDEMPOTENCY_KEY_HEADER}`,
        'must be 1-128 of A-Z a-z 0-9 _ . : -',
      );
    }
    const now = options.clock.now();
    const envelope = buildEnvelope(command, randomUUID(), now.toISOString());
    const { commandId } = envelope;
    if (clientKey !== undefined) {
      const requestHash = createHash('sha256')
        .update(`${request.method.toUpperCase()} ${request.path}\n${JSON.stringify(command)}`)
        .digest('hex');
      const claim = await options.clientKeys.claim({
        key: scopedClientKey(request, clientKey),
        commandId,
        correlationId: envelope.correlationId,
        requestHash,
        now,
      });
      if (claim.outcome === 'exists') {
        if (claim.requestHash !== requestHash) {
          throw ApiRequestError.single(
            422,
            'idempotency_key_reused',
            `headers.${IDEMPOTENCY_KEY_HEADER}`,
            'this key was used for a different request',
          );
        }
        return answerRetry(request, caller, command, claim);
      }
    }
    const sent = await options.queue.send(envelope);
    options.logger.info('command accepted', {
      requestId: request.requestId,
      commandId,
      correlationId: envelope.correlationId,
      runId: commandId,
      lane: envelope.lane,
      commandType: envelope.commandType,
      messageId: sent.messageId,
    });
    try {
      metrics.record('commandsAccepted', 1, { Lane: envelope.lane });
    } catch (error) {
      // The command is enqueued: a metric that cannot be recorded must not turn that into a 500.
      options.logger.warn('metric not recorded', {
        requestId: request.requestId,
        commandId,
        metric: 'commandsAccepted',
        error: error instanceof Error ? error.message : String(error),
      });
    }
    return accepted(caller, commandId, envelope.correlationId, envelope.lane, false);
  }

  /** A retry of a keyed POST: 202 for the key's command once that command is sure to be on its lane. */
  async function answerRetry(
    request: ApiRequest,
    caller: AuthorizedCaller,
    command: CommandRequest,
    claim: Extract<ClaimClientKeyResult, { outcome: 'exists' }>,
  ): Promise<ApiResponse> {
    if (Number.isNaN(Date.parse(claim.claimedAt))) {
      throw new Error(`client key for command ${claim.commandId} has no claim time`);
    }
    const envelope: CommandEnvelope = {
      ...buildEnvelope(command, claim.commandId, claim.claimedAt),
      correlationId: claim.correlationId,
    };
    // A run exists once a lane worker received the envelope; otherwise it may never have been sent.
    const received = (await options.runs.getRun(claim.commandId)) !== undefined;
    const sent = received ? undefined : await options.queue.send(envelope);
    options.logger.info('client retry answered from its idempotency key', {
      requestId: request.requestId,
      commandId: claim.commandId,
      correlationId: claim.correlationId,
      runId: claim.commandId,
      lane: envelope.lane,
      commandType: envelope.commandType,
      resent: sent !== undefined,
      ...(sent ? { messageId: sent.messageId } : {}),
    });
    return accepted(caller, claim.commandId, claim.correlationId, envelope.lane, true);
  }

  /** Operators: any household's run. */
  async function getRun(_request: ApiRequest, params: Record<string, string>): Promise<ApiResponse> {
    const view = await readRun(params, undefined);
    return json(200, renderRun(view.run, view.signals));
  }

  /** A household user's run: another household's reads as unknown (404), so ids do not leak. */
  async function getHouseholdRun(
    _request: ApiRequest,
    params: Record<string, string>,
    caller: AuthorizedCaller,
  ): Promise<ApiResponse> {
    const view = await readRun(params, householdCaller(caller).householdId);
    return json(200, renderRun(view.run, view.signals));
  }

  async function readRun(params: Record<string, string>, householdId: string | undefined) {
    const runId = pathParam(params, 'runId', RUN_ID_PATTERN);
    const view = await options.runs.getRun(runId.toLowerCase());
    if (!view || (householdId !== undefined && view.run.householdId !== householdId)) {
      throw ApiRequestError.single(
        404,
        'run_not_found',
        'path.runId',
        'no run with this id (a queued command has no run yet)',
      );
    }
    return view;
  }

  /** Operators: every run of a correlation id. */
  async function listRunsByCorrelation(request: ApiRequest): Promise<ApiResponse> {
    const correlationId = correlationIdOf(request);
    const runs = await options.runs.findRunsByCorrelationId(correlationId);
    return json(200, { correlationId, runs: runs.map((run) => renderRun(run, run.signals)) });
  }

  /** A household user: the runs of a correlation id that are their household's. */
  async function listHouseholdRuns(
    request: ApiRequest,
    _params: Record<string, string>,
    caller: AuthorizedCaller,
  ): Promise<ApiResponse> {
    const { householdId } = householdCaller(caller);
    const correlationId = correlationIdOf(request);
    const runs = (await options.runs.findRunsByCorrelationId(correlationId)).filter(
      (run) => run.householdId === householdId,
    );
    return json(200, { correlationId, runs: runs.map((run) => renderRun(run, run.signals)) });
  }

  async function getReviewQueue(request: ApiRequest): Promise<ApiResponse> {
    const query = validate(reviewQueueQuerySchema, request.query, 'query');
    const page = await options.runs.listReviewQueue({
      limit: query.limit,
      ...(query.cursor ? { cursor: query.cursor } : {}),
    });
    return json(200, {
      runs: page.runs.map((run) => renderRun(run, run.signals)),
      ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}),
    });
  }

  function readJsonBody<S extends ZodType>(request: ApiRequest, schema: S): z.infer<S> {
    return validate(schema, readJson(request, options.maxBodyBytes), 'body');
  }
}

type HouseholdCaller = Extract<AuthorizedCaller, { kind: 'household' }>;

/** The household caller a household route was authorized for (the router guarantees the kind). */
function householdCaller(caller: AuthorizedCaller): HouseholdCaller {
  if (caller.kind !== 'household') throw new Error(`household route reached by a ${caller.kind} caller`);
  return caller;
}

/** A body's `householdId`, when present, must be the token's. */
function checkBodyHousehold(householdId: string | undefined, caller: HouseholdCaller): void {
  if (householdId !== undefined && householdId !== caller.householdId) {
    throw ApiRequestError.single(
      403,
      'household_mismatch',
      'body.householdId',
      "you can only act for your own household (the token's)",
    );
  }
}

/** A UTF-16 surrogate without its pair: no key DynamoDB can look up. */
const LONE_SURROGATE = /\p{Cs}/u;

function correlationIdOf(request: ApiRequest): string {
  const correlationId = request.query.correlationId;
  if (!correlationId || correlationId.length > 256 || LONE_SURROGATE.test(correlationId)) {
    throw ApiRequestError.single(
      400,
      'validation_failed',
      'query.correlationId',
      'required, at most 256 characters of well-formed Unicode',
    );
  }
  return correlationId;
}

/**
 * The stored name of a client's `Idempotency-Key`: a digest of the caller's scope (issuer and
 * subject, or IAM principal) and the header, so two callers' keys never meet and no caller can
 * probe another's.
 */
function scopedClientKey(request: ApiRequest, clientKey: string): string {
  return createHash('sha256')
    .update(`${callerScope(request.caller)}\n${clientKey}`)
    .digest('hex');
}

/** What a POST asks for; the request hash covers all of it, so a retry rebuilds the same envelope. */
interface CommandRequest {
  readonly commandType: string;
  readonly householdId: string;
  readonly conversationId: string;
  readonly payload: Record<string, unknown>;
}

function buildEnvelope(command: CommandRequest, commandId: string, issuedAt: string): CommandEnvelope {
  return {
    schemaVersion: ENVELOPE_SCHEMA_VERSION,
    commandId,
    commandType: command.commandType,
    lane: laneForCommandType(command.commandType as Parameters<typeof laneForCommandType>[0])
      .name as CommandEnvelope['lane'],
    correlationId: conversationalCorrelationId(command.householdId, command.conversationId, commandId),
    householdId: command.householdId,
    conversationId: command.conversationId,
    issuedAt,
    payload: command.payload,
  };
}

function accepted(
  caller: AuthorizedCaller,
  commandId: string,
  correlationId: string,
  lane: string,
  replayed: boolean,
): ApiResponse {
  // Where this caller reads the run: household users through their own route.
  const runUrl =
    caller.kind === 'household'
      ? API_ROUTES.getHouseholdRun.path.replace('{runId}', commandId)
      : API_ROUTES.getRun.path.replace('{runId}', commandId);
  return json(
    202,
    {
      status: 'Accepted',
      commandId,
      correlationId,
      runId: commandId,
      runUrl,
      lane,
      idempotentReplay: replayed,
    },
    { location: runUrl },
  );
}

/** The read model of a run: run, stages, signals and its idempotency key. */
export function renderRun(run: RunRecord, signals: readonly Signal[]) {
  return {
    runId: run.runId,
    commandId: run.commandId,
    commandType: run.commandType,
    lane: run.lane,
    correlationId: run.correlationId,
    causationId: run.causationId,
    householdId: run.householdId,
    conversationId: run.conversationId,
    replayOf: run.replayOf,
    issuedAt: run.issuedAt,
    status: run.status,
    attempts: run.attempts,
    idempotencyKey: { key: run.commandId, status: run.keyStatus, FinalizedAtUtc: run.FinalizedAtUtc },
    stages: run.stages,
    signals,
    result: run.result,
    // While Running in its `delegated` stage: the worker task and the deadline for its result.
    delegation: run.delegation,
    deadLetter: run.deadLetter,
    needsReviewSince: run.needsReviewSince,
    createdAt: run.createdAt,
    updatedAt: run.updatedAt,
  };
}
