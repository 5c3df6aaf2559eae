// Transparent mode: the node:net / node:http patches on two stacks over net_ring in this thread
// (no root needed), and `bypass run` starting an unmodified node:http program over net_tap (root
// and /dev/net/tun; the tap's kernel side lives in a namespace the test creates and removes).
// The routing decisions alone: transparent-route.test.ts.
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OptionError } from '@bypass/atomics-sync';
import { afterEach, describe, expect, it } from 'vitest';
import {
  installTransparent,
  type ListenInfo,
  Socket as StackSocket,
  createServer as stackServer,
  type Transparent,
} from '../src/index.js';
import { type Pair, startPair } from './pair.js';
import { curl, type RunOptions, RunRig, tapRunUnavailable, until } from './run-rig.js';

// A port nothing else on the machine is likely to hold: the wildcard listen also binds the
// kernel's port in the root namespace.
const APP_PORT = 20000 + Math.floor(Math.random() * 20000);

let pair: Pair | undefined;
let transparent: Transparent | undefined;
const cleanups: (() => void | Promise<void>)[] = [];

afterEach(async () => {
  transparent?.uninstall();
  transparent = undefined;
  for (const c of cleanups.splice(0).reverse()) await c();
  if (pair !== undefined) {
    const { leaked } = await pair.close();
    pair = undefined;
    expect(leaked).toBe(0);
  }
});

const once = <T = unknown>(e: NodeJS.EventEmitter, name: string) =>
  new Promise<T>((resolve, reject) => {
    e.once(name, (v: T) => resolve(v));
    if (name !== 'error') e.once('error', reject);
  });

/** Writes `text`, ends, and collects what comes back until close. */
function exchange(s: NodeJS.ReadWriteStream & NodeJS.EventEmitter, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    s.on('data', (d: Buffer) => {
      got += d;
    });
    s.on('error', reject);
    s.on('close', () => resolve(got));
    s.end(text);
  });
}

function httpGet(url: string, agent?: http.Agent): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent }, (res) => {
      let body = '';
      res.on('data', (d) => {
        body += d;
      });
      res.on('end', () => resolve(`${res.statusCode} ${body}`));
    });
    req.on('error', reject);
  });
}

/** An agent whose connections start on `runtime`'s stack (the client side of the pair). */
function stackAgent(p: Pair): http.Agent {
  const agent = new http.Agent({ keepAlive: false });
  (agent as unknown as { createConnection: unknown }).createConnection = (o: {
    port: number;
    host: string;
  }) => new StackSocket({ runtime: p.client }).connect(o.port, o.host);
  return agent;
}

describe('the patches, on two stacks over net_ring', () => {
  it('node:http listen() on the bypass address: the stack, node:net semantics', async () => {
    pair = await startPair();
    const p = pair;
    const listenBefore = net.Server.prototype.listen;
    // A bad route: OptionError naming the option, and nothing patched.
    const badRoute = () => installTransparent({ runtime: p.server, routes: ['10.9.0.0'] });
    expect(badRoute).toThrow(OptionError);
    expect(badRoute).toThrow(
      'routes must be an IPv4 address with a prefix length, like 10.0.0.2/24, got 10.9.0.0',
    );
    expect(net.Server.prototype.listen).toBe(listenBefore);
    transparent = installTransparent({ runtime: p.server });
    expect(net.Server.prototype.listen).not.toBe(listenBefore);
    const hs = http.createServer((req, res) =>
      res.end(`hi ${req.socket.localAddress} ${req.socket.remoteAddress} ${req.url}`),
    );
    let listened = 0;
    hs.listen(APP_PORT, '10.0.0.2', () => listened++);
    expect(hs.listening).toBe(true);
    await once(hs, 'listening');
    expect(listened).toBe(1);
    expect(hs.address()).toEqual({ address: '10.0.0.2', family: 'IPv4', port: APP_PORT });
    let again: unknown;
    try {
      hs.listen(8081, '10.0.0.2');
    } catch (e) {
      again = e;
    }
    expect((again as NodeJS.ErrnoException).code).toBe('ERR_SERVER_ALREADY_LISTEN');
    expect(await httpGet(`http://10.0.0.2:${APP_PORT}/a`, stackAgent(p))).toBe(
      '200 hi 10.0.0.2 10.0.0.1 /a',
    );
    // A second server on the same stack port: EADDRINUSE, as 'error'.
    const other = net.createServer();
    other.listen(APP_PORT, '::ffff:10.0.0.2');
    expect(((await once(other, 'error')) as NodeJS.ErrnoException).code).toBe('EADDRINUSE');
    expect(other.listening).toBe(false);
    // close(): no more connections; 'close' once the last one is gone.
    const kept = new StackSocket({ runtime: p.client }).connect(APP_PORT, '10.0.0.2');
    await once(kept, 'connect');
    await new Promise((r) => setTimeout(r, 20));
    const count = await new Promise<number>((r) => hs.getConnections((_e, n) => r(n)));
    expect(count).toBe(1);
    let closed = false;
    hs.close(() => {
      closed = true;
    });
    expect(hs.listening).toBe(false);
    expect(hs.address()).toBeNull();
    const refused = new StackSocket({ runtime: p.client }).connect(APP_PORT, '10.0.0.2');
    expect(((await once(refused, 'error')) as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
    await new Promise((r) => setTimeout(r, 20));
    expect(closed).toBe(false); // `kept` is still open (and idle: http's close drops it)
    hs.closeAllConnections();
    await once(kept, 'close');
    await new Promise((r) => setTimeout(r, 20));
    expect(closed).toBe(true);
    transparent.uninstall();
    transparent = undefined;
    expect(net.Server.prototype.listen).toBe(listenBefore);
  });

  it('a wildcard listen() is on the stack and the kernel (one port); 127.0.0.1 only on the kernel', async () => {
    pair = await startPair();
    const p = pair;
    const trace: string[] = [];
    transparent = installTransparent({ runtime: p.server, trace: (l) => trace.push(l) });
    const ws = net.createServer((s) => s.end(`w ${s.localAddress}`));
    ws.listen(0);
    await once(ws, 'listening');
    cleanups.push(() => new Promise<void>((r) => ws.close(() => r())));
    const port = (ws.address() as AddressInfo).port;
    expect(port).toBeGreaterThan(0);
    const viaKernel = net.connect(port, '127.0.0.1');
    expect(await exchange(viaKernel, '')).toBe('w ::ffff:127.0.0.1');
    const viaStack = new StackSocket({ runtime: p.client }).connect(port, '10.0.0.2');
    expect(await exchange(viaStack, '')).toBe('w 10.0.0.2');
    expect(trace).toContain(`listen *:${port} -> stack 10.0.0.2 + kernel`);

    const ls = net.createServer((s) => s.end('loopback'));
    ls.listen(0, '127.0.0.1');
    await once(ls, 'listening');
    cleanups.push(() => new Promise<void>((r) => ls.close(() => r())));
    const lport = (ls.address() as AddressInfo).port;
    expect(await exchange(net.connect(lport, '127.0.0.1'), '')).toBe('loopback');
    const notOnStack = new StackSocket({ runtime: p.client }).connect(lport, '10.0.0.2');
    expect(((await once(notOnStack, 'error')) as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');

    // wildcard: 'stack' leaves the kernel out.
    transparent.uninstall();
    transparent = installTransparent({ runtime: p.server, wildcard: 'stack' });
    const ss = net.createServer((s) => s.end('stack only'));
    ss.listen(9100);
    await once(ss, 'listening');
    cleanups.push(() => new Promise<void>((r) => ss.close(() => r())));
    expect(ss.address()).toEqual({ address: '10.0.0.2', family: 'IPv4', port: 9100 });
    const viaStack2 = new StackSocket({ runtime: p.client }).connect(9100, '10.0.0.2');
    expect(await exchange(viaStack2, '')).toBe('stack only');
  });

  it('listen() with every host form: wildcards (looked up first) on both, names and loopback on the kernel with a notice', async () => {
    pair = await startPair();
    const p = pair;
    const trace: string[] = [];
    const notices: string[] = [];
    const listened: ListenInfo[] = [];
    transparent = installTransparent({
      runtime: p.server,
      trace: (l) => trace.push(l),
      notice: (l) => notices.push(l),
      onListening: (i) => listened.push(i),
    });
    /** Listens with `args`, returns the port and what was traced when 'listening' came. */
    const listenWith = async (tag: string, ...args: unknown[]) => {
      const srv = net.createServer((s) => s.end(`${tag} ${s.localAddress}`));
      cleanups.push(() => new Promise<void>((r) => srv.close(() => r())));
      const seen = new Promise<string[]>((resolve) => {
        (srv.listen as (...a: unknown[]) => net.Server)(...args, () => resolve([...trace]));
      });
      const tracedAtCallback = await seen;
      return { port: (srv.address() as AddressInfo).port, tracedAtCallback, srv };
    };
    for (const [tag, args, kernelHost] of [
      ['v4', [0, '0.0.0.0'], '0.0.0.0'],
      ['v6', [0, '::'], '[::]'],
      ['v6zero', [0, '::0'], '[::0]'],
      ['obj4', [{ port: 0, host: '0.0.0.0' }], '0.0.0.0'],
      ['obj6', [{ port: 0, host: '::' }], '[::]'],
      ['none', [0], '*'],
      ['objnone', [{ port: 0 }], '*'],
    ] as const) {
      const { port, tracedAtCallback, srv } = await listenWith(tag, ...args);
      const line = `listen ${kernelHost}:${port} -> stack 10.0.0.2 + kernel`;
      // The stack listened before the program's 'listening' callback ran.
      expect(tracedAtCallback, tag).toContain(line);
      expect(listened.at(-1), tag).toEqual({
        route: 'both',
        stack: `10.0.0.2:${port}`,
        kernel: `${kernelHost}:${port}`,
      });
      const viaStack = new StackSocket({ runtime: p.client }).connect(port, '10.0.0.2');
      expect(await exchange(viaStack, ''), tag).toBe(`${tag} 10.0.0.2`);
      const viaKernel = net.connect(port, '127.0.0.1');
      expect(await exchange(viaKernel, ''), tag).toMatch(
        new RegExp(`^${tag} (::ffff:)?127.0.0.1$`),
      );
      // close() closes both.
      await new Promise<void>((r) => srv.close(() => r()));
      const refused = new StackSocket({ runtime: p.client }).connect(port, '10.0.0.2');
      expect(((await once(refused, 'error')) as NodeJS.ErrnoException).code, tag).toBe(
        'ECONNREFUSED',
      );
    }
    expect(notices).toEqual([]);

    // The bypass address: the stack only, no notice.
    const own = await listenWith('own', { port: 0, host: '10.0.0.2' });
    expect(own.tracedAtCallback).toContain(`listen 10.0.0.2:${own.port} -> stack 10.0.0.2`);
    expect(listened.at(-1)).toEqual({ route: 'stack', stack: `10.0.0.2:${own.port}` });

    // Names and loopback: the kernel, one notice per listen() that says how to change it.
    for (const host of ['localhost', '127.0.0.1']) {
      const before = notices.length;
      const k = await listenWith(host, 0, host);
      expect(notices.slice(before)).toEqual([
        `bypass: listen ${host}:0 is on the kernel only, not on the bypass stack: to serve it ` +
          `through bypass, listen on the wildcard (no host, '0.0.0.0' or '::') or on 10.0.0.2`,
      ]);
      expect(trace).toContain(`listen ${host}:0 -> kernel`);
      expect(listened.at(-1)).toEqual({ route: 'kernel', kernel: `${host}:${k.port}` });
      const notOnStack = new StackSocket({ runtime: p.client }).connect(k.port, '10.0.0.2');
      expect(((await once(notOnStack, 'error')) as NodeJS.ErrnoException).code).toBe(
        'ECONNREFUSED',
      );
      expect(await exchange(net.connect(k.port, host), '')).toMatch(/^(localhost|127)/);
    }
    // A pipe: the kernel, no notice.
    const before = notices.length;
    const pipe = join(tmpdir(), `bypass-transparent-${process.pid}.sock`);
    const ps = net.createServer((s) => s.end('pipe'));
    await new Promise<void>((r) => ps.listen(pipe, r));
    cleanups.push(() => new Promise<void>((r) => ps.close(() => r())));
    expect(await exchange(net.connect(pipe), '')).toBe('pipe');
    expect(notices.length).toBe(before);
    expect(listened.at(-1)).toEqual({ route: 'kernel', kernel: pipe });

    // wildcard: 'stack': '0.0.0.0' and '::' on the stack only.
    transparent.uninstall();
    transparent = installTransparent({ runtime: p.server, wildcard: 'stack', notice: () => {} });
    for (const host of ['0.0.0.0', '::']) {
      const srv = net.createServer((s) => s.end(`stack ${host}`));
      await new Promise<void>((r) => srv.listen(9200, host, r));
      cleanups.push(() => new Promise<void>((r) => srv.close(() => r())));
      expect(srv.address()).toEqual({ address: '10.0.0.2', family: 'IPv4', port: 9200 });
      const c = new StackSocket({ runtime: p.client }).connect(9200, '10.0.0.2');
      expect(await exchange(c, '')).toBe(`stack ${host}`);
      await new Promise<void>((r) => srv.close(() => r()));
    }
  });

  it('NetRuntime.resetAll(): every connection gets an RST at once (the peer sees ECONNRESET)', async () => {
    pair = await startPair();
    const p = pair;
    const accepted: StackSocket[] = [];
    const srv = stackServer({ runtime: p.server }, (s) => {
      accepted.push(s);
      s.on('error', () => {});
    });
    srv.listen(7100);
    cleanups.push(() => {
      srv.close();
    });
    const clients = [0, 1, 2].map(() =>
      new StackSocket({ runtime: p.client }).connect(7100, '10.0.0.2'),
    );
    await Promise.all(clients.map((c) => once(c, 'connect')));
    await until('the server to accept', 2000, () => accepted.length === 3);
    const errors = clients.map((c) => once<NodeJS.ErrnoException>(c, 'error').catch((e) => e));
    p.server.resetAll();
    expect(p.server.stack.connections.size).toBe(0);
    expect((await Promise.all(errors)).map((e) => e.code)).toEqual([
      'ECONNRESET',
      'ECONNRESET',
      'ECONNRESET',
    ]);
  });

  it('connect(), new Socket().connect(), http.get and fetch to the subnet go through the stack; the rest to the kernel', async () => {
    pair = await startPair();
    const p = pair;
    // The server side, on the other stack: an echo server and an HTTP server.
    const echo = stackServer({ runtime: p.server }, (s) => s.pipe(s));
    echo.listen(7);
    const hs = http.createServer((req, res) =>
      res.end(`page ${req.url} for ${req.socket.remoteAddress}`),
    );
    const hss = stackServer({ runtime: p.server }, (s) => hs.emit('connection', s));
    hss.listen(APP_PORT);
    cleanups.push(() => {
      echo.close();
      hss.close();
    });
    // And one on the kernel, which only the kernel reaches.
    const ks = net.createServer((s) => s.end('kernel'));
    await new Promise<void>((r) => ks.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => ks.close(() => r())));
    const kport = (ks.address() as AddressInfo).port;

    const trace: string[] = [];
    transparent = installTransparent({ runtime: p.client, trace: (l) => trace.push(l) });

    const a = net.connect(7, '10.0.0.2');
    expect(a).toBeInstanceOf(StackSocket);
    expect(await exchange(a, 'one')).toBe('one');

    const b = net.createConnection({ port: 7, host: '10.0.0.2' });
    expect(await exchange(b, 'two')).toBe('two');

    // A node:net Socket made first, connected after: it stays a net.Socket, bridged to the stack.
    const c = new net.Socket();
    let connected = false;
    c.connect(7, '10.0.0.2', () => {
      connected = true;
    });
    expect(c.connecting).toBe(true);
    await once(c, 'connect');
    expect(connected).toBe(true);
    expect(c.connecting).toBe(false);
    expect([c.remoteAddress, c.remotePort, c.remoteFamily]).toEqual(['10.0.0.2', 7, 'IPv4']);
    expect(c.localAddress).toBe('10.0.0.1');
    expect(c.localPort).toBeGreaterThan(1023);
    c.setNoDelay(true);
    c.setKeepAlive(true, 1000);
    const big = 'x'.repeat(300_000);
    expect(await exchange(c, big)).toBe(big);
    expect(c.bytesRead).toBe(big.length);
    expect(c.bytesWritten).toBe(big.length);

    // Refused on the stack: node:net's error.
    const d = new net.Socket();
    d.connect(9, '10.0.0.2');
    const err = (await once(d, 'error')) as NodeJS.ErrnoException;
    expect(err.code).toBe('ECONNREFUSED');

    // http.get through the global agent (http.Agent captured net.createConnection at load).
    expect(await httpGet(`http://10.0.0.2:${APP_PORT}/g`)).toBe('200 page /g for 10.0.0.1');
    // fetch (undici calls net.connect).
    const r = await fetch(`http://10.0.0.2:${APP_PORT}/f`);
    expect(`${r.status} ${await r.text()}`).toBe('200 page /f for 10.0.0.1');

    // Outside the subnet: the kernel, unchanged.
    const k = net.connect(kport, '127.0.0.1');
    expect(k).toBeInstanceOf(net.Socket);
    expect(await exchange(k, '')).toBe('kernel');
    const k2 = new net.Socket();
    k2.connect({ port: kport, host: '127.0.0.1' });
    expect(await exchange(k2, '')).toBe('kernel');

    expect(trace).toContain('connect 10.0.0.2:7 -> stack');
    expect(trace).toContain(`connect 10.0.0.2:${APP_PORT} -> stack`);
    expect(trace).toContain(`connect 127.0.0.1:${kport} -> kernel`);
    // Each decision once (node:net's own connect comes back through Socket.prototype.connect).
    expect(trace.filter((l) => l === `connect 127.0.0.1:${kport} -> kernel`)).toHaveLength(2);
    // Bad ports are node:net's errors, thrown.
    expect(() => net.connect(70000, '10.0.0.2')).toThrow(/port/i);
  });
});

// ---------------------------------------------------------------------------------------------

const FIXTURE = fileURLToPath(new URL('./fixtures/transparent-app.mjs', import.meta.url));

const reason = tapRunUnavailable();
if (reason) console.log(`transparent.test.ts: skipping the bypass run tests: ${reason}`);

/** The fixture on `lcores`, with its helpers (peers and the kernel-only server). */
const fixture = (lcores: string, extra: string[] = []): RunOptions => ({
  lcores,
  extra,
  app: FIXTURE,
  appArgs: ['--app-arg', 'x'],
  env: { APP_PORT: String(APP_PORT) },
  peers: true,
  waitPort: APP_PORT,
});

describe.skipIf(reason !== undefined)('bypass run over net_tap', () => {
  let rig: RunRig | undefined;
  afterEach(async () => {
    await rig?.close();
    rig = undefined;
  });

  it('an unmodified node:http program: served through the stack, its kernel connections fall back', async () => {
    rig = new RunRig();
    await rig.open(fixture('0-1'));
    const ns = rig.ns!;
    const base = `http://${rig.stackIp}:${APP_PORT}`;
    // Through the stack (nothing in the kernel has 10.79.N.2).
    const home = await curl(ns, `${base}/`);
    expect(home.body).toMatch(
      new RegExp(
        `^hello from ${rig.stackIp}:${APP_PORT} to ${rig.peerIp} \\(thread \\d+, argv --app-arg x\\)$`,
      ),
    );
    expect((await curl(ns, `${base}/address`)).body).toBe(
      `{"address":"::","family":"IPv6","port":${APP_PORT}}`,
    );
    // The fallback: an outgoing request to 127.0.0.1 on the kernel's sockets.
    expect((await curl(ns, `${base}/proxy`)).body).toBe('kernel said: 200 kernel side says hi');
    // Outgoing connections into the subnet go through the stack: http.get, new Socket().connect
    // and an ESM named import of createConnection.
    expect((await curl(ns, `${base}/peer`)).body).toBe('peer said: 200 peer says hi');
    expect((await curl(ns, `${base}/raw`)).body).toMatch(
      new RegExp(
        `^raw: ping via Socket ${rig.stackIp}:\\d+ -> ${rig.peerIp}:7002 net.Socket=true$`,
      ),
    );
    expect((await curl(ns, `${base}/named`)).body).toMatch(
      new RegExp(
        `^named: pong via Socket ${rig.stackIp}:\\d+ -> ${rig.peerIp}:7002 net.Socket=false$`,
      ),
    );
    // The wildcard listen is on the kernel too.
    const local = await fetch(`http://127.0.0.1:${APP_PORT}/`);
    expect(await local.text()).toMatch(
      new RegExp(`^hello from ::ffff:127\\.0\\.0\\.1:${APP_PORT} to ::ffff:127\\.0\\.0\\.1`),
    );

    // The interface goes down while the program answers (the tap refuses writes with EIO, and
    // net_tap's txBurst takes nothing): the answer waits in the stack and goes when the interface
    // is up again.
    const later = curl(ns, `${base}/later`);
    await new Promise((r) => setTimeout(r, 300));
    ns.exec('ip', ['link', 'set', rig.iface, 'down']);
    await new Promise((r) => setTimeout(r, 1000));
    ns.exec('ip', ['link', 'set', rig.iface, 'up']);
    expect((await later).body).toBe('later');

    const err = rig.run!.err;
    expect(err).toContain(`lcore 1: listen *:${APP_PORT} -> stack ${rig.stackIp} + kernel`);
    expect(err).toContain(`lcore 1: connect 127.0.0.1:${rig.kernelPort} -> kernel`);
    expect(err).toContain(`lcore 1: connect ${rig.peerIp}:7001 -> stack`);
    expect(err).toContain(`lcore 1: connect ${rig.peerIp}:7002 -> stack`);
    expect(rig.run!.out).toContain(
      `listening on {"address":"::","family":"IPv6","port":${APP_PORT}}`,
    );
    expect(await rig.stop('SIGINT')).toBe(0);
  });

  it('two worker lcores: one listener each, RSS spreads the connections, one kernel listener', async () => {
    rig = new RunRig();
    await rig.open(fixture('0-2', ['--no-pin', '--poll', 'adaptive']));
    const ns = rig.ns!;
    const threads = new Set<string>();
    for (let i = 0; i < 24; i++) {
      const r = await curl(ns, `http://${rig.stackIp}:${APP_PORT}/`);
      expect(r.code).toBe(0);
      threads.add(/thread (\d+)/.exec(r.body)![1]);
    }
    expect(threads.size).toBe(2);
    const err = rig.run!.err;
    expect(err).toContain(`lcore 1: listen *:${APP_PORT} -> stack ${rig.stackIp} + kernel`);
    expect(err).toContain(`lcore 2: listen *:${APP_PORT} -> stack ${rig.stackIp}`);
    expect(rig.run!.out).toContain('listening on {"address":"10.79');
    // Each lcore's fallback works.
    for (let i = 0; i < 4; i++)
      expect((await curl(ns, `http://${rig.stackIp}:${APP_PORT}/proxy`)).body).toBe(
        'kernel said: 200 kernel side says hi',
      );
    expect(await rig.stop('SIGTERM')).toBe(0);
  });
});
