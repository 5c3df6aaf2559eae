// httpd as a program (the same command line a user types) on a net_tap port, against Linux's
// curl and wrk (root and /dev/net/tun; skipped with the reason elsewhere). The test makes a
// network namespace and starts httpd inside it, so its tap interface is created there and never
// has to move (moving a tap takes it down, and a write to a down tap fails with EIO); the
// kernel's side gets 10.78.N.1/24, the stack is 10.78.N.2/24, and only these two exist in the
// namespace. Everything is removed afterwards, also after a failure.
// - curl fetches a 4 MiB random file: status 200 and the same sha256; a missing file is 404 and
//   a path that climbs out of the root is 400;
// - `wrk -t2 -c64 -d5s`: no socket errors, no non-2xx responses (wrk's own report, parsed);
// - SIGINT: httpd exits 0 and prints its per-lcore totals.
import { type ChildProcess, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Netns, tapUnavailable } from '@bypass/pmd/netns';
import { afterAll, describe, expect, it } from 'vitest';

function unavailable(): string | undefined {
  const tap = tapUnavailable();
  if (tap !== undefined) return tap;
  for (const [cmd, arg] of [
    ['curl', '--version'],
    ['wrk', '-v'],
  ]) {
    // wrk -v prints its version and exits 1.
    if (spawnSync(cmd, [arg]).error !== undefined)
      return `${cmd} is not installed (apt-get install ${cmd})`;
  }
  return undefined;
}

const reason = unavailable();
if (reason) console.log(`tap.test.ts: skipping httpd over tap with curl and wrk: ${reason}`);

const APP = join(dirname(fileURLToPath(import.meta.url)), '..');
const SUBNET = 10 + (process.pid % 200);
const KERNEL_IP = `10.78.${SUBNET}.1`;
const OUR_IP = `10.78.${SUBNET}.2`;
const IFACE = `bph${process.pid % 100000}`;

let ns: Netns | undefined;
let server: ChildProcess | undefined;
let dir: string | undefined;
let out = '';

afterAll(() => {
  if (server !== undefined && server.exitCode === null) server.kill('SIGKILL');
  ns?.remove(); // with the server gone, nothing holds the interface
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs `cmd` inside the namespace; returns its status and output. */
function inNs(cmd: string, args: string[], timeoutMs = 20_000) {
  return ns!.execStatus(cmd, args, timeoutMs);
}

async function until(what: string, ms: number, ok: () => boolean): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; httpd said:\n${out}`);
    if (server?.exitCode !== null)
      throw new Error(`httpd exited while waiting for ${what}:\n${out}`);
    await sleep(100);
  }
}

/** wrk's report: requests, and the error lines it prints only when there are errors. */
export function parseWrk(text: string): {
  requests: number;
  socketErrors: { connect: number; read: number; write: number; timeout: number };
  non2xx: number;
  requestsPerSec: number;
} {
  const req = /(\d+) requests in/.exec(text);
  const se = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const bad = /Non-2xx or 3xx responses: (\d+)/.exec(text);
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(text);
  if (req === null || rps === null) throw new Error(`not a wrk report:\n${text}`);
  return {
    requests: Number(req[1]),
    socketErrors: se
      ? { connect: +se[1], read: +se[2], write: +se[3], timeout: +se[4] }
      : { connect: 0, read: 0, write: 0, timeout: 0 },
    non2xx: bad ? Number(bad[1]) : 0,
    requestsPerSec: Number(rps[1]),
  };
}

describe.skipIf(reason !== undefined)('httpd over tap, with curl and wrk', () => {
  it('serves a file to curl (same sha256), refuses traversal, survives wrk with no errors', async () => {
    dir = mkdtempSync(join(tmpdir(), 'httpd-tap-'));
    const data = randomBytes(4 << 20);
    writeFileSync(join(dir, 'data.bin'), data);
    writeFileSync(join(dir, 'index.html'), '<p>bypass</p>\n');
    ns = new Netns();
    // No IPv6 on the interface httpd creates here: no router solicitations to ignore.
    inNs('sysctl', ['-qw', 'net.ipv6.conf.default.disable_ipv6=1']);
    server = ns.spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/main.ts',
        '-l',
        '0-1',
        '--no-pin',
        '--vdev',
        `net_tap0,iface=${IFACE}`,
        '--',
        '--ip',
        `${OUR_IP}/24`,
        '--port',
        '8080',
        '--root',
        dir,
        '-T',
        '0',
      ],
      { cwd: APP, stdin: 'ignore' },
    );
    server.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
    server.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
    const exited = new Promise<number | null>((r) => server!.on('exit', (code) => r(code)));

    await until(
      'the tap interface',
      20_000,
      () => inNs('ip', ['link', 'show', IFACE]).status === 0,
    );
    expect(inNs('ip', ['addr', 'add', `${KERNEL_IP}/24`, 'dev', IFACE]).status).toBe(0);
    await until('httpd to answer', 20_000, () => {
      const r = inNs('curl', ['-sf', '-m', '1', `http://${OUR_IP}:8080/`]);
      return r.status === 0 && r.stdout === '<p>bypass</p>\n';
    });

    const file = join(dir, 'downloaded.bin');
    const get = inNs('curl', [
      '-sS',
      '-m',
      '20',
      '-o',
      file,
      '-w',
      '%{http_code} %{size_download}',
      `http://${OUR_IP}:8080/data.bin`,
    ]);
    expect(get.stderr).toBe('');
    expect(get.stdout).toBe(`200 ${data.length}`);
    const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    expect(sha(readFileSync(file))).toBe(sha(data));

    const code = (path: string) =>
      inNs('curl', [
        '-s',
        '--path-as-is',
        '-o',
        '/dev/null',
        '-w',
        '%{http_code}',
        `http://${OUR_IP}:8080${path}`,
      ]).stdout;
    expect(code('/missing.txt')).toBe('404');
    expect(code('/../../etc/passwd')).toBe('400');
    expect(code('/%2e%2e/%2e%2e/etc/passwd')).toBe('400');

    const w = inNs('wrk', ['-t2', '-c64', '-d5s', `http://${OUR_IP}:8080/index.html`], 30_000);
    console.log(`tap.test.ts: wrk against httpd over tap:\n${w.stdout}`);
    expect(w.status).toBe(0);
    const report = parseWrk(w.stdout);
    expect(report.requests).toBeGreaterThan(100);
    expect(report.socketErrors).toEqual({ connect: 0, read: 0, write: 0, timeout: 0 });
    expect(report.non2xx).toBe(0);

    server.kill('SIGINT');
    expect(await exited).toBe(0);
    const totals =
      /HTTPD: lcore 1 \(queue 0\): (\d+) connections, (\d+) requests \(2xx (\d+), 4xx (\d+), 5xx (\d+)\), (\d+) bad/.exec(
        out,
      );
    expect(totals, out).not.toBeNull();
    const [, conns, requests, , s4xx, s5xx, bad] = totals!.map(Number);
    expect(conns).toBeGreaterThanOrEqual(64);
    expect(requests).toBeGreaterThanOrEqual(report.requests);
    expect([s4xx, s5xx, bad]).toEqual([3, 0, 0]); // the 404 and the two refused traversals
  });
});
