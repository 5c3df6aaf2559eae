// bypass run's command line (no root needed). The run itself, over net_tap, is tested in
// packages/socket-api/test/transparent.test.ts.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  describeListen,
  lcoreCodeFor,
  parseRunArgs,
  ReadyWatch,
  RunUsageError,
  withTapOffload,
} from '../src/run.js';

const here = dirname(fileURLToPath(import.meta.url));
const mainTs = join(here, '..', 'src', 'main.ts');

function cli(...args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', mainTs, ...args], {
    encoding: 'utf8',
    timeout: 60_000,
  });
}

describe('bypass run arguments', () => {
  it('splits EAL options, run options, the program and its arguments', () => {
    const a = parseRunArgs([
      '--lcores',
      '0-1',
      '--vdev',
      'net_tap0,iface=bp0',
      '--ip',
      '10.0.0.2/24',
      '--no-pin',
      '--poll=adaptive',
      '--trace',
      'app.js',
      '--port',
      '80',
      '-x',
    ]);
    expect(a.eal).toEqual([
      '--lcores',
      '0-1',
      '--vdev',
      'net_tap0,iface=bp0',
      '--no-pin',
      '--poll=adaptive',
    ]);
    expect(a.ip).toBe('10.0.0.2/24');
    expect(a.trace).toBe(true);
    expect(a.wildcard).toBe('both');
    expect(a.app).toBe('app.js');
    // After the program, everything is the program's, options included.
    expect(a.appArgs).toEqual(['--port', '80', '-x']);
    expect(a.port).toBeUndefined();
  });

  it('takes the program after --, and the run options in both spellings', () => {
    const a = parseRunArgs([
      '-l',
      '0-3',
      '--ip=10.1.0.2/16',
      '--gateway',
      '10.1.0.1',
      '--route',
      '192.168.0.0/16',
      '--wildcard=stack',
      '--port',
      'net_tap0',
      '--mtu',
      '9000',
      '--mbufs',
      '16384',
      '--',
      '-weird-name.js',
      'a',
    ]);
    expect(a.eal).toEqual(['-l', '0-3']);
    expect(a).toMatchObject({
      ip: '10.1.0.2/16',
      gateway: '10.1.0.1',
      routes: ['192.168.0.0/16'],
      wildcard: 'stack',
      port: 'net_tap0',
      mtu: 9000,
      mbufs: 16384,
      app: '-weird-name.js',
      appArgs: ['a'],
    });
  });

  it('says what is wrong', () => {
    const bad: [string[], RegExp][] = [
      [['--lcores', '0-1', 'app.js'], /--ip ADDR\/PREFIX is required/],
      [['--ip', '10.0.0.2/24'], /no program given/],
      [
        ['--ip', '10.0.0.2', 'app.js'],
        /^--ip must be an IPv4 address with a prefix length, like 10\.0\.0\.2\/24, got 10\.0\.0\.2$/,
      ],
      [
        ['--ip', '10.0.0.2/24', '--gateway', '10.0.0.1', '--route', '10.9.0.0/33', 'app.js'],
        /^--route must be an IPv4 address with a prefix length, like 10\.0\.0\.2\/24, got 10\.9\.0\.0\/33$/,
      ],
      [['--ip', '10.0.0.2/24', '--wildcard', 'kernel', 'app.js'], /--wildcard is both or stack/],
      [['--ip', '10.0.0.2/24', '--gateway', 'router', 'app.js'], /--gateway needs an IPv4/],
      [
        ['--ip', '10.0.0.2/24', '--gateway', '::ffff:10.0.0.1', 'app.js'],
        /--gateway needs an IPv4 address, got "::ffff:10\.0\.0\.1"/,
      ],
      [['--ip', '10.0.0.2/24', '--route', '10.9.0.0/16', 'app.js'], /--route needs --gateway/],
      [['--ip', '10.0.0.2/24', '--mtu', '100', 'app.js'], /--mtu needs an integer/],
      [['--ip', '10.0.0.2/24', '--vdev'], /--vdev needs a value/],
      [
        ['--ip', '10.0.0.2/24', '--code', 'fast', 'app.js'],
        /--code is auto, built or source, got "fast"/,
      ],
    ];
    for (const [args, message] of bad) {
      expect(() => parseRunArgs(args), args.join(' ')).toThrow(RunUsageError);
      expect(() => parseRunArgs(args), args.join(' ')).toThrow(message);
    }
    expect(parseRunArgs(['--help']).help).toBe(true);
  });

  it('exits 2 on bad usage, 1 for a missing program, 0 for --help', () => {
    const usage = cli('run', '--lcores', '0-1', 'app.js');
    expect(usage.status).toBe(2);
    expect(usage.stderr).toContain('--ip ADDR/PREFIX is required');
    expect(usage.stderr).toContain('usage: bypass run');
    const missing = cli('run', '--ip', '10.0.0.2/24', 'no-such-app.js');
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain('no-such-app.js: no such file');
    const help = cli('run', '--help');
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('bypass run --lcores 0-1 --vdev net_tap0,iface=bp0');
    expect(cli('help').stdout).toContain('run [EAL options] --ip ADDR/PREFIX APP');
  });

  it('exits 2 when there is no worker lcore or no port, after starting the EAL', () => {
    const app = join(here, '..', 'src', 'main.ts'); // any existing file: it is never started
    const one = cli('run', '-l', '0', '--no-pin', '--ip', '10.0.0.2/24', app);
    expect(one.status).toBe(2);
    expect(one.stderr).toContain('no worker lcores');
    const noPort = cli('run', '-l', '0-1', '--no-pin', '--ip', '10.0.0.2/24', app);
    expect(noPort.status).toBe(2);
    expect(noPort.stderr).toContain('no port: add one with --vdev');
    const badEal = cli('run', '--frob', '1', '--ip', '10.0.0.2/24', app);
    expect(badEal.status).toBe(2);
    expect(badEal.stderr).toContain('--frob');
  });
});

describe('what the lcores run (--code)', () => {
  const stale = [
    {
      name: '@bypass/tcp',
      dir: '/clone/packages/tcp',
      reason: 'dist/stack.js is older than src/stack.ts',
    },
  ];
  it('auto: the build when it is current and the program is JavaScript', () => {
    expect(parseRunArgs(['--ip', '10.0.0.2/24', 'a.js']).code).toBe('auto');
    expect(lcoreCodeFor('auto', '/p/server.js', [])).toEqual({ code: 'built' });
    expect(lcoreCodeFor('auto', '/p/server.mjs', [])).toEqual({ code: 'built' });
    expect(lcoreCodeFor('auto', '/p/server.ts', [])).toEqual({ code: 'source' });
    expect(lcoreCodeFor('auto', '/p/server.mts', stale)).toEqual({ code: 'source' });
    const r = lcoreCodeFor('auto', '/p/server.js', stale);
    expect(r.code).toBe('source');
    expect(r.notice).toBe(
      "the lcores run bypass's TypeScript sources through tsx, because @bypass/tcp has no current build (dist/stack.js is older than src/stack.ts); `pnpm build` in /clone makes them run the built JavaScript, faster for event-loop programs",
    );
  });

  it('built and source as asked; built refuses a stale build or a TypeScript program', () => {
    expect(parseRunArgs(['--code', 'built', '--ip', '10.0.0.2/24', 'a.js']).code).toBe('built');
    expect(lcoreCodeFor('built', '/p/server.js', [])).toEqual({ code: 'built' });
    expect(lcoreCodeFor('source', '/p/server.js', [])).toEqual({ code: 'source' });
    expect(() => lcoreCodeFor('built', '/p/server.js', stale)).toThrow(
      '--code built: @bypass/tcp has no current build (dist/stack.js is older than src/stack.ts): run `pnpm build` in /clone',
    );
    expect(() => lcoreCodeFor('built', '/p/server.ts', [])).toThrow(
      /is TypeScript: compile it, or use --code source/,
    );
  });
});

describe('net_tap offload by default', () => {
  it('adds offload=tso to each net_tap --vdev that does not say offload=, in both spellings', () => {
    expect(
      withTapOffload([
        '--lcores',
        '0-1',
        '--vdev',
        'net_tap0,iface=bp0',
        '--vdev=net_tap1',
        '--vdev',
        'net_tap2,offload=none',
        '--vdev',
        'net_ring0',
        '--vdev=net_tap3,iface=x,offload=csum',
      ]),
    ).toEqual([
      '--lcores',
      '0-1',
      '--vdev',
      'net_tap0,iface=bp0,offload=tso',
      '--vdev=net_tap1,offload=tso',
      '--vdev',
      'net_tap2,offload=none',
      '--vdev',
      'net_ring0',
      '--vdev=net_tap3,iface=x,offload=csum',
    ]);
  });
});

describe('the ready line', () => {
  it('comes once, when every worker lcore has loaded the program and listened', () => {
    const said: string[] = [];
    const w = new ReadyWatch([1, 2], (first) => said.push(describeListen(first)));
    const both = { route: 'both', stack: '10.0.0.2:80', kernel: '*:80' } as const;
    const stack = { route: 'stack', stack: '10.0.0.2:80' } as const;
    // A listen during the load (no host: synchronous) comes before 'loaded'.
    w.report({ type: 'listening', lcore: 1, listen: both });
    w.report({ type: 'loaded', lcore: 1 });
    w.report({ type: 'loaded', lcore: 2 });
    expect(said).toEqual([]); // lcore 2 has not listened yet
    w.report({ type: 'listening', lcore: 2, listen: stack });
    expect(said).toEqual(['10.0.0.2:80 (stack) and *:80 (kernel)']);
    w.report({ type: 'listening', lcore: 2, listen: stack });
    expect(said).toHaveLength(1);
    expect(describeListen(stack)).toBe('10.0.0.2:80 (stack)');
    expect(describeListen({ route: 'kernel', kernel: 'localhost:80' })).toBe(
      'localhost:80 (kernel only)',
    );
  });
});
