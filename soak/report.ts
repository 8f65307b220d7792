/** The soak's closing summary, for people. */
import type { SoakReport } from './soak.js';

const MAX_FINDINGS_SHOWN = 25;

/**
 * @example
 * console.log(formatSummary(report));
 * // … lost 0, stuck 0, duplicate effects 0 …
 */
export function formatSummary(report: SoakReport): string {
  const v = report.verdict;
  const s = report.sends;
  const byReason = Object.entries(v.deadLettered)
    .sort(([, a], [, b]) => b - a)
    .map(([reason, n]) => `${reason} ${n}`)
    .join(', ');
  const byKind = Object.entries(v.acceptedByKind)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([kind, n]) => `${kind} ${n}`)
    .join(', ');
  const stuckBy = Object.entries(v.stuckByState)
    .map(([state, n]) => `${state} ${n}`)
    .join(', ');
  const lines = [
    '',
    `Runlane chaos soak — seed ${report.seed}, ${report.commandsPlanned} commands planned, work folder ${report.dir}`,
    `  sent          ${s.sent} commands in ${s.requests} requests (${s.duplicateCopies} duplicate deliveries, ${s.clientRetries} client retries); ` +
      `refused ${s.refused}, unacknowledged ${s.unacknowledged}, API 5xx ${s.serverErrors}, approval decisions skipped ${s.decisionsSkipped}`,
    `  accepted      ${v.accepted} (${byKind})`,
    `  completed     ${v.completed}`,
    `  needs review  ${v.needsReview}`,
    `  dead-lettered ${Object.values(v.deadLettered).reduce((a, b) => a + b, 0)} (${byReason || 'none'})`,
    `  lost ${v.lost}, stuck ${v.stuck}, duplicate effects ${v.duplicateEffects}`,
    `  conflicting ${v.conflicting}, missing effects ${v.missingEffects}${stuckBy ? `; stuck as: ${stuckBy}` : ''}`,
    '  by kind',
    ...Object.entries(v.outcomesByKind)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(
        ([kind, outcomes]) =>
          `    ${kind.padEnd(26)} ${Object.entries(outcomes)
            .sort(([, a], [, b]) => b - a)
            .map(([outcome, n]) => `${outcome} ${n}`)
            .join(', ')}`,
      ),
    `  kills         ${report.kills} (SIGKILL to the whole stack; ${report.starts} starts on the same data folder` +
      `${report.unexpectedExits > 0 ? `, ${report.unexpectedExits} exits on its own` : ''})`,
    `  side effects  ${v.drillExecutions} drill executions; ${v.effectsOfDeadAttempts} effect(s) of attempts that died with a killed stack (not duplicates)`,
    `  dead letters  ${v.reasonlessDeadLetters} without a reason, ${v.extraDeadLetters} extra copies, ${v.unmatchedDeadLetters} naming no accepted command; ` +
      `${v.rejectedWithoutDeadLetter} Rejected run(s) without their dead letter; ` +
      `runlane dlq list ${report.dlqList.ok ? `ok (listed ${report.dlqList.deadLetters} of the ${v.deadLetters} read through SQS)` : `FAILED: ${report.dlqList.error}`}`,
    `  settled       ${report.settled ? 'yes' : 'NO (timed out or stopped moving)'}` +
      (report.sweep.ran
        ? `; the anomaly sweep ran with ${report.sweep.openBefore} open, ${report.sweep.closedAfter} of them terminal after`
        : ''),
    `  time          ${report.seconds.total} s (sending ${report.seconds.sending} s, settling ${report.seconds.settling} s)`,
  ];
  if (report.sendErrors.length > 0) {
    lines.push('  while sending (first ones):', ...report.sendErrors.map((e) => `    ${e}`));
  }
  if (v.findings.length > 0) {
    lines.push(
      `  findings (${v.findings.length}, first ${Math.min(MAX_FINDINGS_SHOWN, v.findings.length)}):`,
    );
    for (const f of v.findings.slice(0, MAX_FINDINGS_SHOWN)) {
      lines.push(`    ${f.problem.padEnd(16)} ${f.kind.padEnd(24)} ${f.commandId}  ${f.detail}`);
    }
  }
  if (v.notes.length > 0) {
    lines.push('  notes (counted, not failures):', ...v.notes.map((n) => `    ${n}`));
  }
  lines.push(
    report.passed
      ? 'PASSED: every accepted command ended in exactly one terminal state'
      : `FAILED: ${report.failures.join('; ')}`,
  );
  return lines.join('\n');
}
