// Real frameworks, unmodified, in transparent mode over tap: Express 5 and Fastify 5 listening
// the ways their docs show (no host, '0.0.0.0', '::'), started with the installed command's
// entry (bin/bypass.mjs) from the fixtures folder with a relative program path, answered with
// exact bytes to a client in a namespace the test creates and removes. And a program that dies:
// its connections are reset. Root and /dev/net/tun; skipped elsewhere with the reason printed.
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { RunRig, rawClient, rawExchange, tapRunUnavailable } from './run-rig.js';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
const reason = tapRunUnavailable();
if (reason) console.log(`frameworks.test.ts: skipping: ${reason}`);

const GET = 'GET / HTTP/1.1\r\nHost: app\r\nConnection: close\r\n\r\n';

/** A port for the program: its wildcard listen also binds the kernel's port in this namespace. */
const appPort = () => 20000 + Math.floor(Math.random() * 20000);

describe.skipIf(reason !== undefined)('frameworks under bypass run over net_tap', () => {
  let rig: RunRig | undefined;
  afterEach(async () => {
    await rig?.close();
    rig = undefined;
  });

  /** Starts `app` (relative to the fixtures) with `env`, from the fixtures folder, via the bin. */
  async function serve(app: string, port: number, env: Record<string, string>): Promise<RunRig> {
    rig = new RunRig();
    await rig.open({
      lcores: '0-1',
      app,
      env: { APP_PORT: String(port), ...env },
      cwd: FIXTURES,
      bin: true,
      waitPort: port,
    });
    return rig;
  }

  const cases = [
    ['Express app.listen(port)', 'express-app.mjs', { LISTEN: 'port' }, '*', 'express'],
    [
      "Express app.listen(port, '0.0.0.0')",
      'express-app.mjs',
      { LISTEN: 'wildcard' },
      '0.0.0.0',
      'express',
    ],
    [
      "Fastify listen({ port, host: '0.0.0.0' })",
      'fastify-app.mjs',
      { LISTEN_HOST: '0.0.0.0' },
      '0.0.0.0',
      'fastify',
    ],
    [
      "Fastify listen({ port, host: '::' })",
      'fastify-app.mjs',
      { LISTEN_HOST: '::' },
      '[::]',
      'fastify',
    ],
  ] as const;

  for (const [name, app, env, kernelHost, says] of cases) {
    it(`${name}: on the stack and the kernel, exact bytes through the stack`, async () => {
      const port = appPort();
      const r = await serve(app, port, env);
      const body = `${says} says hi to ${r.peerIp}`;
      const headers =
        says === 'express'
          ? 'Content-Type: text/plain; charset=utf-8\r\n' +
            `Content-Length: ${body.length}\r\nConnection: close\r\n`
          : 'content-type: text/plain; charset=utf-8\r\n' +
            `content-length: ${body.length}\r\nConnection: close\r\n`;
      expect(await rawExchange(r.ns!, r.stackIp, port, GET)).toBe(
        `HTTP/1.1 200 OK\r\n${headers}\r\n${body}`,
      );
      const err = r.run!.err;
      expect(err).toContain(
        `bypass run: lcore 1: listen ${kernelHost}:${port} -> stack ${r.stackIp} + kernel\n`,
      );
      expect(err).toContain(
        `bypass run: ${app} listening on ${r.stackIp}:${port} (stack) and ${kernelHost}:${port} (kernel), lcore 1,`,
      );
      // The kernel listens too (Onload's rule for the wildcard): this namespace's loopback.
      const local = await fetch(`http://127.0.0.1:${port}/`);
      expect(await local.text()).toMatch(
        new RegExp(`^${says} says hi to (::ffff:)?127\\.0\\.0\\.1$`),
      );
      expect(await r.stop('SIGINT')).toBe(0);
    });
  }

  for (const [path, message, line] of [
    ['/sync', 'the handler failed', '7:34'],
    ['/timer', 'the timer failed', '10:13'],
  ] as const) {
    it(`a program that dies (${path}): its connections are reset, bypass run exits 1 with the error`, async () => {
      const port = appPort();
      const r = await serve('dies-app.mjs', port, {});
      expect(await rawExchange(r.ns!, r.stackIp, port, GET)).toMatch(
        /^HTTP\/1\.1 200 OK\r\n[\s\S]*alive$/,
      );
      // A second client, kept open (its request unfinished) while a third kills the program.
      const idle = rawClient(r.ns!, r.stackIp, port, 'GET / HTTP/1.1\r\nHost: app\r\n');
      await idle.connected;
      const dying = rawExchange(
        r.ns!,
        r.stackIp,
        port,
        `GET ${path} HTTP/1.1\r\nHost: app\r\nConnection: close\r\n\r\n`,
      );
      expect(await dying).toBe('error ECONNRESET');
      // The idle one was reset too, not left to time out.
      expect(await idle.result).toBe('error ECONNRESET');
      expect(await r.run!.exited).toBe(1);
      expect(r.run!.err).toMatch(
        new RegExp(
          `bypass run: dies-app.mjs died at ${FIXTURES}dies-app.mjs:${line}: Error: ${message}\n`,
        ),
      );
    });
  }
});
