// Transparent mode's routing decisions (transparent-route.ts): which listen() and connect()
// calls go to the stack and which to the kernel, read from node:net's arguments. Pure: nothing
// is patched or started.
import { parseCidr } from '@bypass/net';
import { describe, expect, it } from 'vitest';
import {
  connectOptionsRoute,
  connectRoute,
  hostIpv4,
  isWildcardHost,
  listenRoute,
  normalizeArgs,
  planListen,
  validPort,
} from '../src/transparent-route.js';

const A = parseCidr('10.0.0.2/24');

describe('addresses', () => {
  it('reads IPv4 literals as node:net does, also in brackets and IPv4-mapped IPv6', () => {
    expect(hostIpv4('10.0.0.2')).toBe(0x0a000002);
    expect(hostIpv4('::ffff:10.0.0.2')).toBe(0x0a000002);
    expect(hostIpv4('[::FFFF:10.0.0.2]')).toBe(0x0a000002);
    expect(hostIpv4('[10.0.0.2]')).toBe(0x0a000002);
    expect(hostIpv4('255.255.255.255')).toBe(0xffffffff);
    // 010.0.0.2: not a literal to node:net (the resolver would read 010 as octal 8).
    for (const bad of ['10.0.0', '10.0.0.256', '010.0.0.2', ' 10.0.0.2', 'localhost', '::1'])
      expect(hostIpv4(bad), bad).toBeUndefined();
    for (const bad of ['', undefined, null, 7, 0x0a000002]) expect(hostIpv4(bad)).toBeUndefined();
  });

  it('knows the wildcard in every spelling', () => {
    for (const h of [
      undefined,
      null,
      '',
      '0.0.0.0',
      '::',
      '::0',
      '0:0:0:0:0:0:0:0',
      '[::]',
      '::ffff:0.0.0.0',
    ])
      expect(isWildcardHost(h)).toBe(true);
    for (const h of ['127.0.0.1', '10.0.0.2', '::1', 'localhost', '0.0.0.1', 0])
      expect(isWildcardHost(h)).toBe(false);
  });
});

describe('routes', () => {
  it('listen: the bypass address to the stack, the wildcard to both (or the stack), the rest to the kernel', () => {
    const r = (t: Parameters<typeof listenRoute>[0], w?: 'both' | 'stack') => listenRoute(t, A, w);
    expect(r({ host: '10.0.0.2' })).toBe('stack');
    expect(r({ host: '::ffff:10.0.0.2' })).toBe('stack');
    expect(r({ host: '10.0.0.2' }, 'stack')).toBe('stack');
    expect(r({})).toBe('both');
    expect(r({ host: '0.0.0.0' })).toBe('both');
    expect(r({ host: '::' })).toBe('both');
    expect(r({}, 'stack')).toBe('stack');
    expect(r({ host: '::' }, 'stack')).toBe('stack');
    for (const host of ['127.0.0.1', '10.0.0.3', 'localhost', '::1', 'example.com'])
      expect(r({ host })).toBe('kernel');
    expect(r({ path: '/tmp/x.sock' })).toBe('kernel');
    expect(r({ fd: 3 })).toBe('kernel');
    expect(r({ handle: {} })).toBe('kernel');
    expect(r({ _handle: {} })).toBe('kernel');
  });

  it('connect: IPv4 literals inside the subnet to the stack, everything else to the kernel', () => {
    const r = (t: Parameters<typeof connectRoute>[0]) => connectRoute(t, A);
    for (const host of ['10.0.0.1', '10.0.0.3', '10.0.0.254', '::ffff:10.0.0.9'])
      expect(r({ host }), host).toBe('stack');
    for (const host of [
      '10.0.0.2', // our own address: the kernel reaches it through the tap, the stack cannot
      '10.0.0.0', // the network
      '10.0.0.255', // the broadcast
      '10.0.1.1',
      '127.0.0.1',
      'localhost',
      'example.com',
      '::1',
      undefined,
    ])
      expect(r({ host }), String(host)).toBe('kernel');
    expect(r({ path: '/tmp/x.sock' })).toBe('kernel');
    expect(r({ host: '10.0.0.1', localAddress: '10.0.0.2' })).toBe('stack');
    expect(r({ host: '10.0.0.1', localAddress: '192.168.0.1' })).toBe('kernel');
    // More routes through the stack (its gateway), and the edges of small prefixes.
    expect(connectRoute({ host: '172.16.5.5' }, A, [parseCidr('172.16.0.0/12')])).toBe('stack');
    expect(connectRoute({ host: '172.32.0.1' }, A, [parseCidr('172.16.0.0/12')])).toBe('kernel');
    const p31 = parseCidr('10.9.9.0/31');
    expect(connectRoute({ host: '10.9.9.0' }, p31)).toBe('kernel'); // its own address
    expect(connectRoute({ host: '10.9.9.1' }, p31)).toBe('stack');
    const p0 = parseCidr('10.0.0.2/0');
    expect(connectRoute({ host: '8.8.8.8' }, p0)).toBe('stack');
  });

  it('connect options: a port node:net would reject goes to the kernel (node:net throws)', () => {
    const r = (o: Record<string, unknown>) => connectOptionsRoute(o, A, []);
    expect(r({ host: '10.0.0.1', port: 80 })).toBe('stack');
    expect(r({ host: '10.0.0.1', port: '80' })).toBe('stack');
    for (const port of [0, -1, 65536, 1.5, '', ' ', 'http', undefined, null, true])
      expect(r({ host: '10.0.0.1', port }), String(port)).toBe('kernel');
    expect(r({ host: '10.0.0.3', port: 80, path: '/tmp/x.sock' })).toBe('kernel');
    const via = [parseCidr('172.16.0.0/12')];
    expect(connectOptionsRoute({ host: '172.16.0.9', port: 443 }, A, via)).toBe('stack');
    expect(connectOptionsRoute({ host: '172.16.0.9', port: 443 }, A, [])).toBe('kernel');
  });
});

describe("node:net's arguments", () => {
  const cb = () => {};

  it('normalizes listen() and connect() arguments as node:net does', () => {
    expect(normalizeArgs([])).toEqual([{}, undefined]);
    expect(normalizeArgs([80, '10.0.0.1', cb])).toEqual([{ port: 80, host: '10.0.0.1' }, cb]);
    expect(normalizeArgs(['80'])).toEqual([{ port: '80' }, undefined]);
    expect(normalizeArgs(['/tmp/x.sock', cb])).toEqual([{ path: '/tmp/x.sock' }, cb]);
    const o = { port: 80, host: 'example.com' };
    expect(normalizeArgs([o, cb])[0]).toBe(o);
    // net.connect() hands Socket.prototype.connect its normalized [options, cb] (cb may be null).
    expect(normalizeArgs([[o, null]])).toEqual([o, undefined]);
    expect(normalizeArgs([[o, cb]])).toEqual([o, cb]);
  });

  it('validates ports as node:net does', () => {
    expect(validPort(0, true)).toBe(0);
    expect(validPort(0, false)).toBeUndefined();
    expect(validPort('443', false)).toBe(443);
    expect(validPort(65535, false)).toBe(65535);
    for (const bad of [65536, -1, 1.5, '', '  ', 'x', null, undefined, true, {}])
      expect(validPort(bad, true), String(bad)).toBeUndefined();
  });

  it('plans a listen(): route, port, host as a URL writes it, backlog, and whether to notice', () => {
    const plan = (args: unknown[], wildcard: 'both' | 'stack' = 'both') => {
      const { options, ...rest } = planListen(args, A, wildcard);
      return rest;
    };
    const no = { callback: undefined, backlog: undefined, byHost: false };
    expect(plan([])).toEqual({ ...no, route: 'both', port: 0, host: '*' });
    expect(plan([cb])).toEqual({ ...no, callback: cb, route: 'both', port: 0, host: '*' });
    expect(plan([3000], 'stack')).toEqual({ ...no, route: 'stack', port: 3000, host: '*' });
    expect(plan([8080, '10.0.0.2', cb])).toEqual({
      ...no,
      callback: cb,
      route: 'stack',
      port: 8080,
      host: '10.0.0.2',
    });
    expect(plan([8080, '::', 511])).toEqual({
      ...no,
      route: 'both',
      port: 8080,
      host: '[::]',
      backlog: 511,
    });
    expect(plan([{ port: 80, host: '127.0.0.1', backlog: 7 }])).toEqual({
      ...no,
      route: 'kernel',
      port: 80,
      host: '127.0.0.1',
      backlog: 7,
      byHost: true,
    });
    expect(plan([8080, 'localhost'])).toEqual({
      ...no,
      route: 'kernel',
      port: 8080,
      host: 'localhost',
      byHost: true,
    });
    // Pipes, handles and fds go to the kernel without a notice.
    expect(plan(['/tmp/x.sock'])).toEqual({ ...no, route: 'kernel', port: 0, host: '*' });
    expect(plan([{ fd: 3 }])).toEqual({ ...no, route: 'kernel', port: 0, host: '*' });
    expect(plan([{ handle: { fd: 3 } }])).toEqual({ ...no, route: 'kernel', port: 0, host: '*' });
    expect(plan([{ _handle: {}, host: '10.0.0.9' }]).byHost).toBe(false);
    // A port node:net rejects: undefined (node:net's own path throws its error).
    expect(plan([{ port: 'http', host: '10.0.0.2' }]).port).toBeUndefined();
    expect(plan([-1]).port).toBeUndefined();
    expect(planListen([{ port: 80, signal: 's' }], A, 'both').options).toEqual({
      port: 80,
      signal: 's',
    });
  });
});
