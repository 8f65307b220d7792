/**
 * Reads a runbook the way the runbook checks need it: headings with their
 * GitHub anchors, inline code spans, the lines of shell code blocks, links and
 * the step tables, each with the heading it sits under (for error messages).
 * The Markdown is lexed by `marked`; shell lines are split into words and
 * pipelines by `shell-quote`.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { lexer, type Token, type Tokens } from 'marked';
import { parse as parseShell } from 'shell-quote';
import { headingAnchor } from '#lib/observability/alarm-catalog.js';

export interface RunbookHeading {
  readonly depth: number;
  readonly text: string;
  readonly anchor: string;
}

/** Something found in a runbook, with the heading it sits under. */
export interface Located<T> {
  readonly value: T;
  readonly section: string;
}

export interface StepTable {
  readonly header: readonly string[];
  readonly rows: readonly (readonly string[])[];
}

export interface Runbook {
  readonly file: string;
  readonly headings: readonly RunbookHeading[];
  readonly codeSpans: readonly Located<string>[];
  /** Lines of `sh`/`bash`/`shell`/`console` (or unlabelled) code blocks, continuations joined. */
  readonly shellLines: readonly Located<string>[];
  readonly links: readonly Located<string>[];
  readonly tables: readonly Located<StepTable>[];
  /** Each `##`/`###`… section's own text (up to the next heading of any depth), by heading text. */
  readonly sections: ReadonlyMap<string, string>;
}

const SHELL_LANGUAGES = new Set(['', 'sh', 'bash', 'shell', 'console']);

/** GitHub's heading text: the inline Markdown (code ticks, emphasis, link syntax) dropped. */
function plainHeading(text: string): string {
  return text
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/[`*_]/g, '')
    .trim();
}

export function readRunbook(file: string, markdown: string): Runbook {
  const headings: RunbookHeading[] = [];
  const codeSpans: Located<string>[] = [];
  const shellLines: Located<string>[] = [];
  const links: Located<string>[] = [];
  const tables: Located<StepTable>[] = [];
  const sections = new Map<string, string>();
  let section = '(top)';

  const walk = (tokens: readonly Token[] | undefined, nested = false): void => {
    for (const token of tokens ?? []) {
      switch (token.type) {
        case 'heading': {
          const text = plainHeading((token as Tokens.Heading).text);
          headings.push({ depth: (token as Tokens.Heading).depth, text, anchor: headingAnchor(text) });
          section = text;
          sections.set(section, '');
          walk((token as Tokens.Heading).tokens, true);
          continue;
        }
        case 'codespan':
          codeSpans.push({ value: decodeEntities((token as Tokens.Codespan).text), section });
          break;
        case 'code': {
          const code = token as Tokens.Code;
          if (SHELL_LANGUAGES.has((code.lang ?? '').trim())) {
            for (const line of joinContinuations(code.text)) shellLines.push({ value: line, section });
          }
          break;
        }
        case 'link':
          links.push({ value: (token as Tokens.Link).href, section });
          break;
        case 'table': {
          const table = token as Tokens.Table;
          tables.push({
            value: {
              header: table.header.map((cell) => cell.text.trim()),
              rows: table.rows.map((row) => row.map((cell) => cell.text.trim())),
            },
            section,
          });
          for (const cell of [...table.header, ...table.rows.flat()]) walk(cell.tokens, true);
          break;
        }
        default:
          break;
      }
      // Only top-level blocks: a nested token's text is already in its block's.
      if (!nested && sections.has(section)) sections.set(section, `${sections.get(section)}${token.raw}`);
      const children = token as { tokens?: Token[]; items?: Tokens.ListItem[] };
      if (token.type !== 'table') walk(children.tokens, true);
      if (children.items) walk(children.items, true);
    }
  };
  walk(lexer(markdown));
  return { file, headings, codeSpans, shellLines, links, tables, sections };
}

/** `marked` leaves HTML entities in code span text (`&lt;env&gt;`). */
function decodeEntities(text: string): string {
  return text
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&');
}

function joinContinuations(text: string): string[] {
  const lines: string[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.replace(/^\s*\$\s+/, '');
    if (line.trimEnd().endsWith('\\')) {
      pending += `${line.trimEnd().slice(0, -1)} `;
      continue;
    }
    const joined = `${pending}${line}`.trim();
    pending = '';
    if (joined !== '') lines.push(joined);
  }
  if (pending.trim() !== '') lines.push(pending.trim());
  return lines;
}

/** Which CLI a command line calls, and its arguments. */
export interface CliInvocation {
  readonly cli: 'runlane' | 'runlane-agent';
  readonly argv: readonly string[];
  /** The command line it came from, for messages. */
  readonly source: string;
  /** From an inline code span (prose may name a command, `runlane dlq show`) rather than a shell block. */
  readonly inline: boolean;
}

const PLACEHOLDER = /<([A-Za-z][\w.:-]*)>/g;

const REDIRECTIONS = new Set(['<', '>', '>>', '>&']);

/**
 * The words of each simple command in a shell line (split at `|`, `&&`, `||`,
 * `;`, `&`, parentheses). `<placeholder>` words stay words (shell-quote would
 * read them as redirections); `$VAR` stays `$VAR`; comments are dropped.
 *
 * @example
 * shellCommands('npx runlane dlq list --json | jq .'); // [['npx','runlane','dlq','list','--json'], ['jq','.']]
 */
export function shellCommands(line: string): string[][] {
  const names: string[] = [];
  const protectedLine = line.replace(PLACEHOLDER, (_match, name: string) => {
    names.push(name);
    return `__placeholder_${names.length - 1}__`;
  });
  const restore = (word: string): string =>
    word.replace(/__placeholder_(\d+)__/g, (_match, index: string) => `<${names[Number(index)]}>`);
  const commands: string[][] = [[]];
  let redirectTarget = false;
  for (const entry of parseShell(protectedLine, (key) => `$${key}`)) {
    const current = commands[commands.length - 1] ?? [];
    if (typeof entry === 'string' || (typeof entry === 'object' && 'op' in entry && entry.op === 'glob')) {
      const word = typeof entry === 'string' ? entry : (entry as { pattern: string }).pattern;
      // A redirection's target is not an argument of the command.
      if (!redirectTarget) current.push(restore(word));
      redirectTarget = false;
    } else if ('comment' in entry) {
      break;
    } else if (REDIRECTIONS.has(entry.op)) {
      // `2>&1`: the file descriptor before the operator is not an argument either.
      if (/^\d$/.test(current[current.length - 1] ?? '')) current.pop();
      redirectTarget = true;
    } else {
      commands.push([]);
    }
  }
  return commands.filter((words) => words.length > 0);
}

/**
 * The `runlane` / `runlane-agent` invocation a command's words make, if any:
 * `npx runlane …`, `runlane …`, `runlane-agent …`, `npm run agent -- …`,
 * after leading `VAR=value` assignments and `sudo`.
 */
export function cliInvocation(
  words: readonly string[],
  source: string,
  inline = false,
): CliInvocation | undefined {
  let rest = [...words];
  while (rest.length > 0 && (/^[A-Za-z_][A-Za-z0-9_]*=/.test(rest[0] ?? '') || rest[0] === 'sudo')) {
    rest = rest.slice(1);
  }
  if (rest[0] === 'npx') rest = rest.slice(1);
  if (rest[0] === 'npm' && rest[1] === 'run' && rest[2] === 'agent') {
    return { cli: 'runlane-agent', argv: rest[3] === '--' ? rest.slice(4) : [], source, inline };
  }
  if (rest[0] === 'runlane' || rest[0] === 'runlane-agent') {
    return { cli: rest[0], argv: rest.slice(1), source, inline };
  }
  return undefined;
}

/** Every `runlane` / `runlane-agent` invocation in a runbook's code spans and shell blocks. */
export function cliInvocations(runbook: Runbook): Located<CliInvocation>[] {
  const found: Located<CliInvocation>[] = [];
  const lines = [
    ...runbook.codeSpans.map((line) => ({ ...line, inline: true })),
    ...runbook.shellLines.map((line) => ({ ...line, inline: false })),
  ];
  for (const { value: line, section, inline } of lines) {
    for (const words of shellCommands(line)) {
      const invocation = cliInvocation(words, line, inline);
      // `runlane-agent` or `runlane-agent …` in prose names the program; an elided command line is not one to run.
      if (
        invocation &&
        invocation.argv.length > 0 &&
        !invocation.argv.some((word) => word === '…' || word === '...')
      ) {
        found.push({ value: invocation, section });
      }
    }
  }
  return found;
}

/** Every command's words (any program) in code spans and shell blocks. */
export function allShellCommands(runbook: Runbook): Located<string[]>[] {
  return [...runbook.codeSpans, ...runbook.shellLines].flatMap(({ value, section }) =>
    shellCommands(value).map((words) => ({ value: words, section })),
  );
}

/**
 * A regular expression that finds a name in source text: `<placeholder>`
 * parts match any run of name characters, the rest literally, not inside a
 * longer identifier.
 *
 * @example
 * nameMatcher('runlane-<env>-RunnerStallFastBurn').test('"runlane-prod-RunnerStallFastBurn"'); // true
 */
export function nameMatcher(name: string): RegExp {
  const pattern = name
    .split(PLACEHOLDER)
    .filter((_part, index) => index % 2 === 0)
    // `*` is a wildcard too (`AWS_ENDPOINT_URL_*`).
    .map((part) => part.split('*').map(escapeRegExp).join(NAME_RUN))
    .join(NAME_RUN);
  return new RegExp(`(?<![A-Za-z0-9_])${pattern}(?![A-Za-z0-9_])`);
}

/** What a placeholder stands for: a run of the characters names are made of. */
const NAME_RUN = '[A-Za-z0-9_.:/$#{}-]+';

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

const REPOSITORY_ROOT = resolve(import.meta.dirname, '../..');

/** The documents whose commands the checks run tools on: every runbook and the README (its deploy steps). */
export function readCommandDocuments(): Runbook[] {
  const files = [
    ...readdirSync(join(REPOSITORY_ROOT, 'runbooks'))
      .filter((name) => name.endsWith('.md'))
      .sort()
      .map((name) => `runbooks/${name}`),
    'README.md',
  ];
  return files.map((file) => readRunbook(file, readFileSync(join(REPOSITORY_ROOT, file), 'utf8')));
}

/** `<tool> --version`, or undefined when the tool is not installed (its check is then skipped). */
export function installedToolVersion(tool: string): string | undefined {
  try {
    return execFileSync(tool, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch {
    return undefined;
  }
}
