// Where in the program a load failed: `bypass run` reports a program that does not load with
// its file, line and column, as plain `node app.js` does, not with the lcore's internals.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface ProgramLocation {
  file: string;
  line: number;
  column: number;
  /** The source line and the caret under it, when Node printed them. */
  excerpt?: string;
  /** `NAME: MESSAGE` as `node --check` put it (findSyntaxError). */
  headline?: string;
}

/**
 * A module that did not parse (nothing of the program ran: no frames to show). esbuild (tsx, for
 * TypeScript) throws a TransformError with the position in its message. tsx's loader (which loads the program in an lcore) parses ES
 * modules first and throws `Error: Parse error FILE:1:1` with a meaningless position; Node's own
 * is a SyntaxError without any.
 */
export function isSyntaxHeadline(headline: string): boolean {
  return /^SyntaxError\b|^TransformError\b|^Error: Parse error /.test(headline);
}

/** Frames of modules tsx loaded for an lcore carry its namespace: not part of the file name. */
function withoutTsxNamespace(stack: string): string {
  return stack.replace(/\?tsx-namespace=[\w-]+/g, '');
}

/** The bypass checkout (or installed copy) this runs from: frames in its sources are not the program's. */
const BYPASS_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

function isBypassSource(file: string): boolean {
  if (!file.startsWith(BYPASS_ROOT)) return false;
  return /^(packages|apps)\/[^/]+\/src\//.test(file.slice(BYPASS_ROOT.length));
}

function toPath(file: string): string {
  return file.startsWith('file://') ? fileURLToPath(file) : file;
}

/**
 * The location in an error's stack: the header Node puts on a SyntaxError it compiled as
 * CommonJS (or `node --check` prints), `FILE:LINE\n<code>\n   ^`; esbuild's (tsx's) `FILE:LINE:COL:
 * ERROR: ...`; or else the first frame that is neither Node's own nor bypass's.
 */
export function locationInStack(text: string): ProgramLocation | undefined {
  const stack = withoutTsxNamespace(text);
  const header = /^((?:file:\/\/)?\/[^\n]*?):(\d+)\n([^\n]*)\n( *)(\^+)/m.exec(stack);
  if (header !== null) {
    return {
      file: toPath(header[1]),
      line: Number(header[2]),
      column: header[4].length + 1,
      excerpt: `${header[3]}\n${header[4]}${header[5]}`,
    };
  }
  const esbuild = /^((?:file:\/\/)?\/[^\n]*?):(\d+):(\d+): ERROR: /m.exec(stack);
  if (esbuild !== null) {
    return { file: toPath(esbuild[1]), line: Number(esbuild[2]), column: Number(esbuild[3]) };
  }
  for (const m of stack.matchAll(/^ {4}at (?:.*?\()?((?:file:\/\/)?\/[^():]+):(\d+):(\d+)\)?$/gm)) {
    const file = toPath(m[1]);
    if (isBypassSource(file) || file.includes('/node_modules/tsx/')) continue;
    return { file, line: Number(m[2]), column: Number(m[3]) };
  }
  return undefined;
}

/** Relative static imports of a JavaScript module (`import ... from './x.js'`, `import './y.js'`). */
function relativeImports(file: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const out: string[] = [];
  const re =
    /(?:^|[;\s])(?:import|export)\s*(?:[^'";]*?\sfrom\s*)?['"](\.{1,2}\/[^'"]+)['"]|require\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;
  for (const m of text.matchAll(re)) {
    const target = resolve(dirname(file), m[1] ?? m[2]);
    if (existsSync(target)) out.push(target);
  }
  return out;
}

/**
 * For a SyntaxError whose stack has no location (an ES module: Node keeps the location for its
 * own uncaught-error printout), `node --check` each JavaScript file of the program, starting
 * with `app` and following its relative imports (at most `limit` files). Nothing is run.
 */
export function findSyntaxError(app: string, limit = 64): ProgramLocation | undefined {
  const seen = new Set<string>();
  const queue = [app];
  while (queue.length > 0 && seen.size < limit) {
    const file = queue.shift() as string;
    if (seen.has(file)) continue;
    seen.add(file);
    if (!/\.(m|c)?js$/.test(file)) continue;
    const r = spawnSync(process.execPath, ['--check', file], { encoding: 'utf8', timeout: 10_000 });
    if (r.status !== 0) {
      const at = locationInStack(r.stderr);
      const headline = /^(SyntaxError: .*)$/m.exec(r.stderr)?.[1];
      if (at !== undefined) return headline === undefined ? at : { ...at, headline };
    }
    queue.push(...relativeImports(file));
  }
  return undefined;
}

/**
 * The report for a program that failed to load: `FILE:LINE:COL: NAME: MESSAGE`, the source line
 * with a caret where Node gave one, then the program's frames of the stack (not for a
 * SyntaxError: nothing ran).
 * @param app the program's absolute path
 * @param headline `NAME: MESSAGE` of the program's error
 * @param stack its stack, as the lcore saw it
 */
export function formatLoadError(app: string, headline: string, stack: string): string {
  const syntax = isSyntaxHeadline(headline);
  const at =
    (headline.startsWith('Error: Parse error ') ? undefined : locationInStack(stack)) ??
    (syntax ? findSyntaxError(app) : undefined);
  const where = at === undefined ? app : `${at.file}:${at.line}:${at.column}`;
  const lines = [`${where}: ${at?.headline ?? headline}`];
  if (at?.excerpt !== undefined) lines.push(...at.excerpt.split('\n').map((l) => `    ${l}`));
  if (!syntax) {
    for (const l of withoutTsxNamespace(stack).split('\n')) {
      const frame = /^ {4}at (?:.*?\()?((?:file:\/\/)?\/[^():]+):\d+:\d+\)?$/.exec(l);
      if (frame === null) continue;
      const file = toPath(frame[1]);
      if (!isBypassSource(file) && !file.includes('/node_modules/tsx/')) lines.push(l);
    }
  }
  return lines.join('\n');
}
