/**
 * The soak's workload, drawn up front from the seed: which command each slot is, how many times a
 * producer delivers it, how a client retries it, and at which moments the stack is killed.
 */
import { randomUUID } from 'node:crypto';
import type { Random } from './random.js';

/** What one planned command is, and so which terminal states and side effects it may have. */
export type CommandKind =
  /** POST a conversation message, no Idempotency-Key, never retried. */
  | 'api.message'
  /** POST a conversation message with an Idempotency-Key, retried (some copies concurrently). */
  | 'api.message.keyed'
  /** A producer sends a body that is not JSON: dead-lettered `invalid_json` at once. */
  | 'poison.invalid_json'
  /** A producer sends JSON that is not a valid envelope: dead-lettered `invalid_envelope` at once. */
  | 'poison.invalid_envelope'
  /** `drill.flaky` with `failTimes` 0: succeeds at once, leaving one side effect. */
  | 'drill.ok'
  /** `drill.flaky` failing 1 to maxReceiveCount − 1 times, then succeeding. */
  | 'drill.flaky'
  /** `drill.flaky` failing more often than the lane receives it: dead-lettered `handler_failed`. */
  | 'drill.failing'
  /** A well-formed command type the lane does not know: dead-lettered `unsupported_command_type`. */
  | 'unsupported'
  | 'ingestion.ok'
  /** `ingestion.completed` over the error-ratio threshold: NeedsReview with a signal. */
  | 'ingestion.over_threshold'
  /** `drill.hang` failing every attempt but the last, which hangs past the function timeout. */
  | 'drill.hang_final'
  /** `drill.hang` hanging on its first attempt, then succeeding. */
  | 'drill.hang_first';

/** Approval decisions are follow-ups of high-impact messages, decided once the message completed. */
export type FollowUpKind = 'api.approval' | 'api.approval.second';

export type AnyKind = CommandKind | FollowUpKind;

export interface PlannedCommand {
  readonly index: number;
  readonly kind: CommandKind;
  /** The envelope's commandId for producer commands (known before sending); undefined for API ones. */
  readonly commandId: string | undefined;
  /** Found in the body of a poison message, to match it in the DLQ. */
  readonly token: string;
  /** Producer commands: how many times the same body is sent (1–5; 1 for drill.failing and drill.hang). */
  readonly copies: number;
  /** Delay of each copy after the first, ms. */
  readonly copyDelaysMs: readonly number[];
  /** Keyed API commands: extra requests with the same key, `concurrent` ones race the first. */
  readonly retries: readonly { readonly concurrent: boolean; readonly delayMs: number }[];
  /** API messages: the text (emoji and other non-ASCII included). */
  readonly text: string;
  /** The text proposes a high-impact action, so the message requests an approval. */
  readonly highImpact: boolean;
  /** High-impact messages: the approval decision(s) that follow once the message completed. */
  readonly decision: 'approve' | 'reject' | undefined;
  readonly secondDecision: boolean;
  /** Drill commands: the payload. */
  readonly failTimes: number;
  /** Poison: which lane it is sent to, and which malformation. */
  readonly laneIndex: number;
  readonly variant: number;
}

export interface SoakPlan {
  readonly commands: readonly PlannedCommand[];
  /** Send indexes at which the stack is killed (ascending). */
  readonly killAt: readonly number[];
}

const WEIGHTS: readonly (readonly [CommandKind, number])[] = [
  ['api.message', 12],
  ['api.message.keyed', 12],
  ['poison.invalid_json', 5],
  ['poison.invalid_envelope', 5],
  ['drill.failing', 5],
  ['unsupported', 5],
  ['drill.flaky', 15],
  ['drill.ok', 16],
  ['ingestion.ok', 13],
  ['ingestion.over_threshold', 8],
];
const TOTAL_WEIGHT = WEIGHTS.reduce((sum, [, weight]) => sum + weight, 0);

/** Texts a household types: emoji, ZWJ sequences, accents, maths, U+FFFE/U+FFFF once in a while. */
const LOW_IMPACT_TEXTS = [
  'remind me to renew the passport 🛂',
  'categorize the receipts from the market 🧾🥕',
  'hello there 👋 how was the week?',
  'café crème ☕ costs 3,20 € at the corner',
  'family dinner 👨‍👩‍👧‍👦 on sunday, bring the 🎂',
  'maths homework: ∑ x² ≤ ∞ and 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 letters',
  'plain ascii note about the weekend',
  'emoji only: 🎉🎉🎉',
  'Zürich → Genève ✈️ on the 3rd',
  'text with the non-characters \uFFFE and \uFFFF inside',
];
const HIGH_IMPACT_TEXTS = [
  'pay 45 to the gardener 🌱',
  'transfer 120 to savings 💰',
  'please cancel the streaming subscription 📺',
];

/**
 * Draws `count` commands (`hangs` of them drill.hang, spread over the run) and `kills` kill
 * moments between 10 % and 90 % of the sends, one in each equal slice of that span.
 *
 * @example
 * const plan = planSoak(seededRandom(7), { count: 1000, kills: 1, hangs: 2, maxReceiveCount: 5 });
 */
export function planSoak(
  random: Random,
  options: {
    readonly count: number;
    readonly kills: number;
    readonly hangs: number;
    readonly maxReceiveCount: number;
  },
): SoakPlan {
  const kinds: CommandKind[] = [];
  for (let i = 0; i < options.count - options.hangs; i++) kinds.push(drawKind(random));
  for (let h = 0; h < options.hangs; h++) {
    const at = random.int(0, kinds.length);
    kinds.splice(at, 0, h % 2 === 0 ? 'drill.hang_final' : 'drill.hang_first');
  }
  const commands = kinds.map((kind, index) => planCommand(random, kind, index, options.maxReceiveCount));
  return { commands, killAt: killMoments(random, options.count, options.kills) };
}

function drawKind(random: Random): CommandKind {
  let roll = random.next() * TOTAL_WEIGHT;
  for (const [kind, weight] of WEIGHTS) {
    roll -= weight;
    if (roll < 0) return kind;
  }
  return 'drill.ok';
}

function planCommand(
  random: Random,
  kind: CommandKind,
  index: number,
  maxReceiveCount: number,
): PlannedCommand {
  const viaProducer = !kind.startsWith('api.');
  const valid = viaProducer && !kind.startsWith('poison.');
  const token = randomUUID();
  // A copy is a fresh SQS message with receives of its own (and so attempts of its own): commands
  // that must fail or hang on their final receive are delivered once.
  const single = kind === 'drill.failing' || kind === 'drill.hang_final' || kind === 'drill.hang_first';
  const copies = valid && !single && random.chance(0.5) ? random.int(2, 5) : 1;
  const highImpact = kind.startsWith('api.') && random.chance(0.3);
  const decision = highImpact && random.chance(0.6) ? (random.chance(0.8) ? 'approve' : 'reject') : undefined;
  return {
    index,
    kind,
    commandId: valid ? token : undefined,
    token,
    copies,
    copyDelaysMs: Array.from({ length: copies - 1 }, () => (random.chance(0.3) ? 0 : random.int(50, 4000))),
    retries:
      kind === 'api.message.keyed' && random.chance(0.5)
        ? Array.from({ length: random.int(1, 3) }, () => ({
            concurrent: random.chance(0.5),
            delayMs: random.int(0, 1500),
          }))
        : [],
    text: highImpact ? random.pick(HIGH_IMPACT_TEXTS) : random.pick(LOW_IMPACT_TEXTS),
    highImpact,
    decision,
    secondDecision: decision !== undefined && random.chance(0.25),
    failTimes: failTimesFor(random, kind, maxReceiveCount),
    laneIndex: random.int(0, 1),
    variant: random.int(0, 4),
  };
}

function failTimesFor(random: Random, kind: CommandKind, maxReceiveCount: number): number {
  switch (kind) {
    case 'drill.flaky':
      return random.int(1, maxReceiveCount - 1);
    case 'drill.failing':
      return random.int(maxReceiveCount + 1, Math.min(10, maxReceiveCount + 5));
    case 'drill.hang_final':
      return maxReceiveCount - 1;
    default:
      return 0;
  }
}

/** Kill moments as send indexes in [10 %, 90 %) of `count`, ascending, spaced when there is room. */
function killMoments(random: Random, count: number, kills: number): number[] {
  if (kills === 0) return [];
  const low = Math.floor(count * 0.1);
  const span = Math.max(1, Math.floor(count * 0.8));
  const slot = span / kills;
  // One moment per equal slot of the span, at a random place inside it: random, yet spread out.
  return Array.from({ length: kills }, (_, k) => low + Math.floor(slot * k + random.next() * slot * 0.8));
}
