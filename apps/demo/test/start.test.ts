import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OptionError } from '@bypass/atomics-sync';
import * as hdr from 'hdr-histogram-js';
import { afterEach, describe, expect, it } from 'vitest';
import { parseStartArgs } from '../src/main.js';

/** `f` throws an OptionError naming `option` and `value`, with exactly `message`. */
function expectOptionError(f: () => unknown, option: string, value: unknown, message: string) {
  expect(f).toThrow(OptionError);
  expect(f).toThrow(expect.objectContaining({ option, value, message }));
}

const DEMO = fileURLToPath(new URL('..', import.meta.url));

describe('pnpm start (httpd + loadgen)', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('parses its options and names a bad one', () => {
    const o = parseStartArgs(['--duration', '3', '--connections', '8', '--size', '1024']);
    expect(o).toMatchObject({ durationS: 3, connections: 8, size: 1024, vdevs: [], port: 8080 });
    expect(o.reportDir).toMatch(/reports$/);
    expect(parseStartArgs(['--vdev', 'net_tap0,iface=bp0', '--ip', '10.1.0.2/24'])).toMatchObject({
      vdevs: ['net_tap0,iface=bp0'],
      ip: '10.1.0.2/24',
    });
    expectOptionError(
      () => parseStartArgs(['--duration', '0']),
      '--duration',
      '0',
      '--duration must be seconds in (0, 3600], got 0',
    );
    expectOptionError(
      () => parseStartArgs(['--connections', 'many']),
      '--connections',
      'many',
      '--connections must be an integer in [1, 65536], got many',
    );
    expectOptionError(
      () => parseStartArgs(['--ip', '10.0.0.2']),
      '--ip',
      '10.0.0.2',
      '--ip must be an IPv4 address with a prefix length, like 10.0.0.2/24, got 10.0.0.2',
    );
    const flags =
      '--duration, --connections, --size, --workers, --report-dir, --vdev, --ip, --port';
    expectOptionError(
      () => parseStartArgs(['--verbose']),
      'demo option',
      '--verbose',
      `demo option must be one of ${flags}, got --verbose`,
    );
    expectOptionError(
      () => parseStartArgs(['10']),
      'demo argument',
      '10',
      `demo argument must be one of ${flags}, got 10`,
    );
    expectOptionError(
      () => parseStartArgs(['--size']),
      '--size',
      'nothing',
      '--size must be followed by a value, got nothing',
    );
    expectOptionError(
      () => parseStartArgs(['--duration', '-5']),
      '--duration',
      '-5',
      '--duration must be followed by a value (one that starts with - goes as --duration=-5), got -5',
    );
  });

  it('`pnpm start -- --duration 2` exits 0 and writes a report whose JSON holds requests and a histogram', async () => {
    dir = mkdtempSync(join(tmpdir(), 'bypass-start-'));
    const { code, stdout, stderr } = await new Promise<{
      code: number | null;
      stdout: string;
      stderr: string;
    }>((resolve) => {
      const child = execFile(
        process.execPath,
        ['--import', 'tsx', 'src/main.ts', '--', '--duration', '2', '--report-dir', dir!],
        { cwd: DEMO, timeout: 45_000 },
        (_e, stdout, stderr) => resolve({ code: child.exitCode, stdout, stderr }),
      );
    });
    expect(code, `${stdout}\n${stderr}`).toBe(0);
    expect(stdout).toMatch(/requests\/s/);
    const files = readdirSync(dir);
    const json = files.find((f) => f.endsWith('.json'));
    expect(files.some((f) => f.endsWith('.html'))).toBe(true);
    expect(json).toBeDefined();
    const report = JSON.parse(readFileSync(join(dir, json!), 'utf8'));
    expect(report.summary.requests).toBeGreaterThan(0);
    expect(report.lcores.map((l: { role: string }) => l.role).sort()).toContain('server');
    const h = hdr.decodeFromCompressedBase64(report.histogram.encoded);
    expect(h.totalCount).toBeGreaterThan(0);
    // The interval log: HdrHistogram's header, then one line per second whose counts add up to
    // the whole run's.
    const hlog = files.find((f) => f.endsWith('.hlog'));
    expect(hlog).toBeDefined();
    const log = readFileSync(join(dir, hlog!), 'utf8').split('\n');
    expect(log[0]).toBe('#[Histogram log format version 1.3]');
    const lines = log.filter((l) => /^\d/.test(l));
    expect(lines.length).toBeGreaterThanOrEqual(2);
    const total = lines
      .map((l) => hdr.decodeFromCompressedBase64(l.split(',')[3]).totalCount)
      .reduce((a, b) => a + b, 0);
    expect(total).toBe(h.totalCount);
  });
});
