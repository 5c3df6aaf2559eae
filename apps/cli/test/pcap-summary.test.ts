import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ETHERTYPE_IPV4,
  emitTcp,
  ethernetEmit,
  FLG_ACK,
  FLG_PSH,
  fillTcpChecksumIpv4,
  IP_PROTO_TCP,
  IP_PROTO_UDP,
  ipv4Emit,
  parseIpv4,
  udpEmit,
} from '@bypass/net';
import { PcapWriter } from '@bypass/pmd';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatSummary, PcapSummaryInputError, summarizePcap } from '../src/pcap-summary.js';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, '..', '..', '..');
const mainTs = join(repoRoot, 'apps', 'cli', 'src', 'main.ts');

/** shared/data/NAME in the nearest folder above this one, or undefined. */
function findSharedData(name: string): string | undefined {
  let dir = here;
  for (;;) {
    const file = join(dir, 'shared', 'data', name);
    if (existsSync(file)) return file;
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

function cli(...args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', mainTs, ...args], {
    cwd: repoRoot,
    encoding: 'utf8',
  });
}

const capture = findSharedData('linux-veth-http.pcap');
if (capture === undefined) {
  console.log(
    'pcap-summary.test.ts: skipping the capture tests: no shared/data/linux-veth-http.pcap above ' +
      here,
  );
}

describe.skipIf(capture === undefined)('the shared capture linux-veth-http.pcap', () => {
  const path = capture as string;

  it('counts every protocol and finds every checksum good', () => {
    const s = summarizePcap(path);
    expect(s.frames).toBe(226);
    expect(s.counts).toMatchObject({
      ethernet: 226,
      arp: 2,
      ipv4: 224,
      ipv6: 0,
      other: 0,
      icmp: 5,
      udp: 1,
      tcp: 218,
      ipv4Other: 0,
      malformed: 0,
      ipv4Fragments: 0,
    });
    expect(s.checksums).toEqual({
      ipv4Header: { good: 224, bad: 0 },
      icmp: { good: 5, bad: 0 },
      udp: { good: 1, bad: 0, none: 0 },
      tcp: { good: 218, bad: 0 },
    });
    expect(s.reassembly.datagrams).toEqual([]);
  });

  it('reassembles the HTTP response with the 200000-byte body', () => {
    const s = summarizePcap(path);
    const responses = s.tcpStreams.filter(
      (t) => t.src.endsWith(':8080') && t.http?.kind === 'response',
    );
    const blob = responses.find((t) => t.http?.bodyLength === 200000);
    expect(blob).toBeDefined();
    expect(blob?.http?.statusLine).toMatch(/^HTTP\/1\.0 200/);
    expect(blob?.http?.bodySha256).toBe(
      '3e6ee5035e2d15ece96a08d494c405e102742538e3731d517ba4caf054c87118',
    );
    expect(blob?.gaps).toEqual([]);
    expect(blob).toMatchObject({ syn: true, fin: true, rst: false });
    expect(blob?.bytes).toBe((blob?.http?.headerLength ?? 0) + 200000);
  });

  it('finds the second, short HTTP exchange too', () => {
    const s = summarizePcap(path);
    expect(s.tcpStreams).toHaveLength(4);
    const requests = s.tcpStreams.filter((t) => t.http?.kind === 'request');
    expect(requests.map((t) => t.http?.requestLine)).toEqual([
      'GET /blob.bin HTTP/1.1',
      'GET / HTTP/1.1',
    ]);
    const second = requests[1];
    const reply = s.tcpStreams.find((t) => t.src === second.dst && t.dst === second.src);
    expect(reply?.http?.kind).toBe('response');
    expect(reply?.http?.bodyLength).toBeGreaterThan(0);
    expect(reply?.gaps).toEqual([]);
  });

  it('formats a text report', () => {
    const text = formatSummary(summarizePcap(path));
    expect(text).toContain('TCP  218');
    expect(text).toContain('3e6ee5035e2d15ece96a08d494c405e102742538e3731d517ba4caf054c87118');
  });

  it('prints only one JSON object with --json', () => {
    const r = cli('pcap-summary', path, '--json');
    expect(r.status).toBe(0);
    const parsed = JSON.parse(r.stdout);
    expect(parsed).toEqual(JSON.parse(JSON.stringify(summarizePcap(path))));
    expect(parsed.counts.tcp).toBe(218);
  });
});

describe('synthetic captures', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'bypass-cli-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  const src = parseIpv4('10.0.0.1');
  const dst = parseIpv4('10.0.0.2');
  const eth = { dst: 0x02_00_00_00_00_02, src: 0x02_00_00_00_00_01, etherType: ETHERTYPE_IPV4 };

  it('reassembles a UDP datagram sent in 3 fragments (out of order)', () => {
    // The whole datagram first, to get the UDP checksum over all of it.
    const payload = new Uint8Array(3000).map((_, i) => (i * 7) & 0xff);
    const udpLen = 8 + payload.length;
    const whole = new Uint8Array(20 + udpLen);
    ipv4Emit({ src, dst, protocol: IP_PROTO_UDP, payloadLength: udpLen, ttl: 64 }, whole, 0);
    udpEmit({ srcPort: 5000, dstPort: 6000, payload }, whole, 20, 0);
    const udp = whole.subarray(20);
    const pieces = [
      [0, 1480],
      [1480, 2960],
      [2960, udpLen],
    ];
    const path = join(dir, 'frags.pcap');
    const w = PcapWriter.create(path);
    for (const i of [2, 0, 1]) {
      const [from, to] = pieces[i];
      const frame = new Uint8Array(14 + 20 + (to - from));
      ethernetEmit(eth, frame, 0);
      ipv4Emit(
        {
          src,
          dst,
          protocol: IP_PROTO_UDP,
          payloadLength: to - from,
          ttl: 64,
          ident: 0x1234,
          moreFragments: i < 2,
          fragOffset: from,
        },
        frame,
        14,
      );
      frame.set(udp.subarray(from, to), 34);
      w.write(frame, 0, frame.length, 1_700_000_000e9 + i * 1e6);
    }
    w.close();
    const s = summarizePcap(path);
    expect(s.frames).toBe(3);
    expect(s.counts).toMatchObject({ ipv4: 3, ipv4Fragments: 3, udp: 1, malformed: 0 });
    expect(s.checksums.ipv4Header).toEqual({ good: 3, bad: 0 });
    expect(s.checksums.udp).toEqual({ good: 1, bad: 0, none: 0 });
    expect(s.reassembly.datagrams).toEqual([
      {
        src: '10.0.0.1',
        dst: '10.0.0.2',
        protocol: IP_PROTO_UDP,
        ident: 0x1234,
        fragments: 3,
        size: 20 + udpLen,
      },
    ]);
    expect(s.reassembly.incomplete).toBe(0);
    expect(formatSummary(s)).toContain(`${20 + udpLen} bytes from 3 fragments`);
  });

  function tcpFrame(seq: number, data: string, corrupt = false): Uint8Array {
    const payload = new TextEncoder().encode(data);
    const frame = new Uint8Array(14 + 20 + 20 + payload.length);
    ethernetEmit(eth, frame, 0);
    ipv4Emit(
      { src, dst, protocol: IP_PROTO_TCP, payloadLength: 20 + payload.length, ttl: 64 },
      frame,
      14,
    );
    emitTcp(
      {
        srcPort: 1234,
        dstPort: 80,
        seq,
        ack: 1,
        flags: FLG_ACK | FLG_PSH,
        window: 1000,
        urgent: 0,
        options: {},
        payloadLength: payload.length,
      },
      frame,
      34,
    );
    frame.set(payload, 54);
    fillTcpChecksumIpv4(frame, 14, 34, 20 + payload.length);
    if (corrupt) frame[frame.length - 1] ^= 0x40;
    return frame;
  }

  it('counts a corrupted TCP checksum as bad, and places segments by sequence number', () => {
    const path = join(dir, 'tcp.pcap');
    const w = PcapWriter.create(path);
    const frames = [
      tcpFrame(106, 'world'), // out of order
      tcpFrame(100, 'hello '),
      tcpFrame(100, 'hello '), // retransmission
      tcpFrame(111, '!!', true), // bad checksum: counted, not used
      tcpFrame(120, 'tail'), // after a gap
    ];
    frames.forEach((f, i) => {
      w.write(f, 0, f.length, 1_700_000_000e9 + i * 1e6);
    });
    w.close();
    const s = summarizePcap(path);
    expect(s.counts.tcp).toBe(5);
    expect(s.checksums.tcp).toEqual({ good: 4, bad: 1 });
    expect(s.tcpStreams).toHaveLength(1);
    const t = s.tcpStreams[0];
    expect(t).toMatchObject({
      src: '10.0.0.1:1234',
      dst: '10.0.0.2:80',
      segments: 5,
      syn: false,
      bytes: 15,
      duplicateBytes: 6,
      gaps: [{ offset: 11, length: 9 }],
      http: null,
    });
  });

  it('refuses a file that is not a pcap with a one-line error naming it', () => {
    const path = join(dir, 'empty.pcap');
    PcapWriter.create(path).close(); // a file header and no records is a valid, empty capture
    expect(summarizePcap(path).frames).toBe(0);
    const bad = join(dir, 'not-a-pcap');
    writeFileSync(bad, 'hello, this is not a capture file');
    expect(() => summarizePcap(bad)).toThrow(PcapSummaryInputError);
    const r = cli('pcap-summary', bad);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(bad);
  });
});

describe('the CLI', () => {
  it('exits 1 with a one-line error for a missing file', () => {
    const r = cli('pcap-summary', '/nonexistent/capture.pcap');
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe(
      'bypass pcap-summary: /nonexistent/capture.pcap: cannot read: no such file',
    );
    expect(r.stdout).toBe('');
  });

  it('exits 2 with the usage for an unknown option or command', () => {
    const r = cli('pcap-summary', 'x.pcap', '--frobnicate');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('unknown option --frobnicate');
    expect(r.stderr).toContain('usage: bypass');
    expect(cli('frobnicate').status).toBe(2);
    expect(cli('pcap-summary').status).toBe(2);
  });

  it('prints help', () => {
    const r = cli('help');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('pcap-summary FILE [--json]');
  });
});
