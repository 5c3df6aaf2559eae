import { OptionError } from '@bypass/atomics-sync';
import { parseIpv4 } from '@bypass/net';
import { describe, expect, it } from 'vitest';
import { RouteTable } from './routes.js';

const ip = parseIpv4;

/** 10.0.0.0/8 via 192.168.1.1, 10.1.0.0/16 via 192.168.1.2, 10.1.2.0/24 connected. */
function table(): RouteTable {
  const t = new RouteTable();
  t.add({ dest: ip('10.0.0.0'), prefixLen: 8, gateway: ip('192.168.1.1') });
  t.add({ dest: ip('10.1.2.0'), prefixLen: 24, gateway: 0 });
  t.add({ dest: ip('10.1.0.0'), prefixLen: 16, gateway: ip('192.168.1.2') });
  return t;
}

describe('RouteTable', () => {
  it('picks the longest matching prefix (RFC 1812 5.2.4.3), whatever the order of add', () => {
    const t = table();
    expect(t.nextHop(ip('10.1.2.7'))).toBe(ip('10.1.2.7')); // /24, connected: the host itself
    expect(t.nextHop(ip('10.1.3.7'))).toBe(ip('192.168.1.2')); // /16
    expect(t.nextHop(ip('10.2.0.1'))).toBe(ip('192.168.1.1')); // /8
    expect(t.nextHop(ip('11.0.0.1'))).toBe(-1); // no route
    expect(t.routes.map((r) => r.prefixLen)).toEqual([24, 16, 8]);
  });

  it('matches the edges of a prefix exactly', () => {
    const t = new RouteTable();
    t.add({ dest: ip('10.0.0.0'), prefixLen: 25, gateway: 0 });
    expect(t.nextHop(ip('10.0.0.0'))).toBe(ip('10.0.0.0'));
    expect(t.nextHop(ip('10.0.0.127'))).toBe(ip('10.0.0.127'));
    expect(t.nextHop(ip('10.0.0.128'))).toBe(-1);
    expect(t.nextHop(ip('9.255.255.255'))).toBe(-1);
  });

  it('a host route (/32) beats everything; a default route (/0) catches the rest', () => {
    const t = table();
    t.add({ dest: 0, prefixLen: 0, gateway: ip('192.168.1.254') });
    t.add({ dest: ip('10.1.2.9'), prefixLen: 32, gateway: ip('192.168.1.3') });
    expect(t.nextHop(ip('10.1.2.9'))).toBe(ip('192.168.1.3'));
    expect(t.nextHop(ip('10.1.2.10'))).toBe(ip('10.1.2.10'));
    expect(t.nextHop(ip('8.8.8.8'))).toBe(ip('192.168.1.254'));
    expect(t.nextHop(ip('255.255.255.255'))).toBe(ip('192.168.1.254'));
    expect(t.nextHop(0)).toBe(ip('192.168.1.254'));
  });

  it('stores the destination masked to its prefix', () => {
    const t = new RouteTable();
    t.add({ dest: ip('10.1.2.3'), prefixLen: 16, gateway: ip('192.168.0.1') });
    expect(t.routes).toEqual([{ dest: ip('10.1.0.0'), prefixLen: 16, gateway: ip('192.168.0.1') }]);
    expect(t.nextHop(ip('10.1.200.200'))).toBe(ip('192.168.0.1'));
  });

  it('replaces a route with the same prefix instead of adding a second', () => {
    const t = table();
    t.add({ dest: ip('10.1.99.99'), prefixLen: 16, gateway: ip('192.168.1.9') });
    expect(t.routes).toHaveLength(3);
    expect(t.nextHop(ip('10.1.3.7'))).toBe(ip('192.168.1.9'));
    // A replaced default route, too.
    t.add({ dest: 0, prefixLen: 0, gateway: ip('192.168.1.1') });
    t.add({ dest: ip('1.2.3.4'), prefixLen: 0, gateway: ip('192.168.1.2') });
    expect(t.routes).toHaveLength(4);
    expect(t.nextHop(ip('8.8.8.8'))).toBe(ip('192.168.1.2'));
  });

  it('removes a route by prefix (host bits ignored) and says whether it was there', () => {
    const t = table();
    expect(t.remove(ip('10.1.255.255'), 16)).toBe(true);
    expect(t.nextHop(ip('10.1.3.7'))).toBe(ip('192.168.1.1')); // falls back to the /8
    expect(t.remove(ip('10.1.0.0'), 16)).toBe(false);
    expect(t.remove(ip('10.0.0.0'), 9)).toBe(false); // same address, other prefix
    expect(t.remove(ip('10.0.0.0'), 8)).toBe(true);
    expect(t.nextHop(ip('10.2.0.1'))).toBe(-1);
    expect(t.nextHop(ip('10.1.2.1'))).toBe(ip('10.1.2.1'));
    expect(t.routes).toHaveLength(1);
  });

  it('rejects a prefix length outside 0..32', () => {
    const t = new RouteTable();
    for (const prefixLen of [-1, 33, 1.5, Number.NaN]) {
      expect(() => t.add({ dest: 0, prefixLen, gateway: 0 })).toThrow(OptionError);
      expect(() => t.add({ dest: 0, prefixLen, gateway: 0 })).toThrow(
        `route prefixLen must be an integer from 0 to 32, got ${prefixLen}`,
      );
    }
    expect(t.routes).toHaveLength(0);
  });

  it('prints one line per route, longest prefix first', () => {
    const t = table();
    expect(t.toString()).toBe(
      ['10.1.2.0/24 connected', '10.1.0.0/16 via 192.168.1.2', '10.0.0.0/8 via 192.168.1.1'].join(
        '\n',
      ),
    );
  });
});

describe('RouteTable version', () => {
  it('changes when a route is added, replaced or removed, not when one is looked up or missing', () => {
    const t = table();
    const v0 = t.version;
    t.nextHop(ip('10.1.2.3'));
    expect(t.version).toBe(v0);
    t.add({ dest: ip('10.1.0.0'), prefixLen: 16, gateway: ip('192.168.1.3') });
    expect(t.version).toBeGreaterThan(v0);
    const v1 = t.version;
    expect(t.remove(ip('172.16.0.0'), 12)).toBe(false);
    expect(t.version).toBe(v1);
    expect(t.remove(ip('10.1.0.0'), 16)).toBe(true);
    expect(t.version).toBeGreaterThan(v1);
  });
});
