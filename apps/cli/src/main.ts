// bypass: the project's command line. `pnpm bypass <command> [args]` in the repository, or the
// `bypass` command (bin/bypass.mjs) in a project that installed it; `bypass help`.
import { formatSummary, PcapSummaryInputError, summarizePcap } from './pcap-summary.js';

const USAGE = `usage: bypass <command> [args]

commands:
  pcap-summary FILE [--json]   decode an Ethernet pcap capture: protocol counts, checksum
                               verdicts, IPv4 reassembly, TCP streams (with HTTP bodies);
                               --json prints one JSON object instead of text
  run [EAL options] --ip ADDR/PREFIX APP [args]
                               run an unmodified node:net / node:http program on every
                               worker lcore, its bypass traffic on the user-space stack
                               (bypass run --help)
  help                         print this help
`;

/** Exit codes: 0 ok, 1 bad input (file missing, not a pcap), 2 bad usage. */
function pcapSummary(args: string[]): number {
  let json = false;
  const files: string[] = [];
  let options = true;
  for (const a of args) {
    if (options && a === '--') options = false;
    else if (options && (a === '-h' || a === '--help')) {
      process.stdout.write(USAGE);
      return 0;
    } else if (options && a === '--json') json = true;
    else if (options && a.startsWith('-') && a !== '-') {
      process.stderr.write(`bypass pcap-summary: unknown option ${a}\n\n${USAGE}`);
      return 2;
    } else files.push(a);
  }
  if (files.length !== 1) {
    process.stderr.write(
      `bypass pcap-summary: ${files.length === 0 ? 'no FILE given' : 'one FILE only'}\n\n${USAGE}`,
    );
    return 2;
  }
  try {
    const summary = summarizePcap(files[0]);
    process.stdout.write(json ? `${JSON.stringify(summary, null, 2)}\n` : formatSummary(summary));
    return 0;
  } catch (e) {
    if (e instanceof PcapSummaryInputError) {
      process.stderr.write(`bypass pcap-summary: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}

function main(argv: string[]): number | Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'pcap-summary':
      return pcapSummary(rest);
    case 'run':
      // Loaded on demand: the other commands need no EAL, ports or stack.
      return import('./run.js').then((m) => m.run(rest));
    case 'help':
    case '-h':
    case '--help':
      process.stdout.write(USAGE);
      return 0;
    case undefined:
      process.stderr.write(USAGE);
      return 2;
    default:
      process.stderr.write(`bypass: unknown command ${command}\n\n${USAGE}`);
      return 2;
  }
}

// The repository's `pnpm bypass ...` runs at the repository's root: take the program and its
// relative paths from the folder the person ran it in, as the installed `bypass` command does.
const initCwd = process.env.INIT_CWD;
if (
  process.env.npm_lifecycle_event === 'bypass' &&
  process.env.npm_package_name === 'bypass' &&
  initCwd !== undefined &&
  initCwd !== process.cwd()
)
  process.chdir(initCwd);

const status = main(process.argv.slice(2));
if (typeof status === 'number') process.exitCode = status;
// run: the lcore threads and the program's handles are gone after cleanup; exit with its status.
else void status.then((code) => process.exit(code));
