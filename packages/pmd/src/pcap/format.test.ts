import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OptionError } from '@bypass/atomics-sync';
import { afterAll, describe, expect, it } from 'vitest';
import { findSharedData } from '../../test/shared-data.js';
import {
  LINKTYPE_ETHERNET,
  LINKTYPE_LINUX_SLL,
  PCAP_FILE_HEADER_BYTES,
  PCAP_MAGIC_MICROSECOND,
  PCAP_MAGIC_NANOSECOND,
  PCAP_MAX_CAPLEN,
  PcapClosedError,
  PcapFormatError,
  PcapReader,
  type PcapReaderOptions,
  PcapWriter,
  type PcapWriterOptions,
} from './index.js';

const CAPTURE = findSharedData('linux-veth-http.pcap');
if (!CAPTURE) {
  console.log(
    'format.test.ts: skipping the capture tests: shared/data/linux-veth-http.pcap was not ' +
      'found in any folder above this one (clone shared/ beside the repository)',
  );
}

function tsharkVersion(): string | undefined {
  const r = spawnSync('tshark', ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.split('\n')[0] : undefined;
}
const TSHARK = tsharkVersion();
if (!TSHARK) {
  console.log(
    'format.test.ts: skipping the tshark interop tests: tshark is not installed ' +
      '(apt-get install tshark)',
  );
}

const TMP = mkdtempSync(join(tmpdir(), 'bypass-pcap-'));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));
let tmpCount = 0;
function tmpFile(name: string): string {
  return join(TMP, `${tmpCount++}-${name}`);
}

/** One record, copied out of the reader (slow path, for comparisons). */
interface Rec {
  tsSec: number;
  tsFrac: number;
  capLen: number;
  origLen: number;
  bytes: Uint8Array;
}

function readAll(path: string, options?: PcapReaderOptions): Rec[] {
  const r = PcapReader.open(path, options);
  try {
    const out: Rec[] = [];
    while (r.next()) {
      const bytes = new Uint8Array(r.capLen);
      expect(r.copyTo(bytes, 0)).toBe(r.capLen);
      out.push({ tsSec: r.tsSec, tsFrac: r.tsFrac, capLen: r.capLen, origLen: r.origLen, bytes });
    }
    return out;
  } finally {
    r.close();
  }
}

/** Writes every record of `input` to a new file with `options`, via copyFrom. */
function convert(input: string, options: PcapWriterOptions, name: string): string {
  const out = tmpFile(name);
  const r = PcapReader.open(input);
  const w = PcapWriter.create(out, options);
  while (r.next()) w.copyFrom(r);
  r.close();
  w.close();
  return out;
}

/** Synthetic frames of varied lengths with nanosecond timestamps, for tests without the capture. */
function writeSynthetic(path: string, n: number, options: PcapWriterOptions = {}): void {
  const w = PcapWriter.create(path, options);
  const frame = new Uint8Array(1600);
  for (let i = 0; i < n; i++) {
    const len = 60 + ((i * 397) % 1455);
    for (let j = 0; j < len; j++) frame[j] = (i * 31 + j) & 0xff;
    w.writeNs(frame, 0, len, 1_700_000_000 + i, (i * 123_456_789) % 1e9);
  }
  w.close();
}

/** One string per record: cheap to compare, and a diff shows which record differs. */
const summary = (recs: Rec[]) =>
  recs.map((r) => `${r.tsSec}.${r.tsFrac} ${r.capLen}/${r.origLen} ${hex(r.bytes)}`);

const ip = (b: Uint8Array, at: number) => `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;
const u16 = (b: Uint8Array, at: number) => (b[at] << 8) | b[at + 1];
const u32 = (b: Uint8Array, at: number) =>
  ((b[at] << 24) | (b[at + 1] << 16) | u16(b, at + 2)) >>> 0;
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_ARP = 0x0806;

/** The TCP segment in an Ethernet frame, or undefined (slow-path parse for the tests). */
function tcpSegment(f: Uint8Array) {
  if (u16(f, 12) !== ETHERTYPE_IPV4 || f[23] !== 6) return undefined;
  const ihl = (f[14] & 0x0f) * 4;
  const ipEnd = 14 + u16(f, 16);
  const t = 14 + ihl;
  const dataAt = t + (f[t + 12] >> 4) * 4;
  return {
    src: `${ip(f, 26)}:${u16(f, t)}`,
    dst: `${ip(f, 30)}:${u16(f, t + 2)}`,
    seq: u32(f, t + 4),
    flags: f[t + 13],
    payload: f.subarray(dataAt, ipEnd),
  };
}

/** Runs tshark on `file`: returns epoch time, frame.len and frame.cap_len per record. */
function tsharkRead(file: string): { status: number | null; stderr: string; lines: string[] } {
  const r = spawnSync(
    'tshark',
    ['-r', file, '-c', '1000', '-T', 'fields', '-e', 'frame.time_epoch', '-e', 'frame.len'],
    { encoding: 'utf8', maxBuffer: 1 << 24 },
  );
  const stderr = r.stderr.replace(/^Running as user "root".*\n/m, '');
  return { status: r.status, stderr, lines: r.stdout.split('\n').filter((l) => l !== '') };
}

describe.skipIf(!CAPTURE)('reading the shared capture linux-veth-http.pcap', () => {
  const file = CAPTURE!;

  it('has the expected file header and 226 records, in time order', () => {
    const r = PcapReader.open(file, { linktype: LINKTYPE_ETHERNET });
    expect(r.header).toEqual({
      magic: PCAP_MAGIC_MICROSECOND,
      nanosecond: false,
      littleEndian: true,
      versionMajor: 2,
      versionMinor: 4,
      thiszone: 0,
      sigfigs: 0,
      snaplen: 262144,
      linktype: LINKTYPE_ETHERNET,
      linktypeField: 1,
    });
    let n = 0;
    let bytes = 0;
    let last = 0;
    let offset = PCAP_FILE_HEADER_BYTES;
    while (r.next()) {
      n++;
      expect(r.recordNumber).toBe(n);
      expect(r.recordOffset).toBe(offset);
      offset += 16 + r.capLen;
      expect(r.origLen).toBe(r.capLen);
      expect(r.tsNs).toBeGreaterThanOrEqual(last);
      last = r.tsNs;
      bytes += r.capLen;
    }
    expect(n).toBe(226);
    expect(bytes).toBe(215992); // tshark -z io,phs: eth bytes
    expect(offset).toBe(readFileSync(file).length);
    expect(r.next()).toBe(false);
    r.close();
  });

  it('reads the first record, the ARP request, byte for byte', () => {
    const r = PcapReader.open(file);
    expect(r.next()).toBe(true);
    expect([r.tsSec, r.tsFrac, r.capLen, r.origLen]).toEqual([1795625112, 796077, 42, 42]);
    expect(r.tsNsBigInt()).toBe(1795625112_796077000n);
    expect(Math.round(r.tsNs / 1000)).toBe(1795625112_796077);
    const f = r.buffer.subarray(r.offset, r.offset + r.capLen);
    expect(hex(f)).toBe(
      'ffffffffffff76786e987a910806000108000604000176786e987a910a4d00010000000000000a4d0002',
    );
    expect([f[12], f[13]]).toEqual([0x08, 0x06]); // EtherType ARP
    expect(u16(f, 20)).toBe(1); // ARP opcode: request
    expect(ip(f, 28)).toBe('10.77.0.1'); // sender protocol address
    expect(ip(f, 38)).toBe('10.77.0.2'); // target protocol address
    r.close();
  });

  it('counts ARP 2, ICMP 5, TCP 218, UDP 1 frames (as tshark -z io,phs does)', () => {
    const counts = { arp: 0, icmp: 0, tcp: 0, udp: 0, other: 0 };
    const r = PcapReader.open(file);
    while (r.next()) {
      const b = r.buffer;
      const at = r.offset;
      const type = u16(b, at + 12);
      const proto = b[at + 23];
      if (type === ETHERTYPE_ARP) counts.arp++;
      else if (type === ETHERTYPE_IPV4 && proto === 1) counts.icmp++;
      else if (type === ETHERTYPE_IPV4 && proto === 6) counts.tcp++;
      else if (type === ETHERTYPE_IPV4 && proto === 17) counts.udp++;
      else counts.other++;
    }
    r.close();
    // ICMP: two echo requests, two replies, and the port unreachable that answers the UDP.
    expect(counts).toEqual({ arp: 2, icmp: 5, tcp: 218, udp: 1, other: 0 });
  });

  it('reassembles the 200000-byte HTTP body with the sha256 in the README', () => {
    const recs = readAll(file);
    const segs = recs.map((r) => tcpSegment(r.bytes)).filter((s) => s !== undefined);
    const get = segs.find((s) => Buffer.from(s.payload).toString('latin1').startsWith('GET /blob'));
    expect(get).toBeDefined();
    const flow = segs.filter((s) => s.src === get!.dst && s.dst === get!.src);
    const isn = flow.find((s) => s.flags & 0x02)!.seq; // the SYN-ACK
    const bySeq = new Map<number, Uint8Array>();
    for (const s of flow) if (s.payload.length > 0) bySeq.set((s.seq - isn - 1) >>> 0, s.payload);
    const parts: Uint8Array[] = [];
    let next = 0;
    for (const rel of [...bySeq.keys()].sort((a, b) => a - b)) {
      const p = bySeq.get(rel)!;
      expect(rel).toBeLessThanOrEqual(next); // no hole
      if (rel + p.length > next) parts.push(p.subarray(next - rel));
      next = Math.max(next, rel + p.length);
    }
    const stream = Buffer.concat(parts);
    const headerEnd = stream.indexOf('\r\n\r\n');
    const head = stream.subarray(0, headerEnd).toString('latin1');
    expect(head).toMatch(/^HTTP\/1\.0 200 OK\r\n/);
    expect(head).toContain('Content-Length: 200000');
    const body = stream.subarray(headerEnd + 4);
    expect(body.length).toBe(200000);
    expect(createHash('sha256').update(body).digest('hex')).toBe(
      '3e6ee5035e2d15ece96a08d494c405e102742538e3731d517ba4caf054c87118',
    );
  });

  it('gives identical records whatever the chunk size (records straddling chunks)', () => {
    const ref = readAll(file);
    for (const chunkSize of [7, 100, 1517, 4096, 65536]) {
      expect(summary(readAll(file, { chunkSize })), `chunkSize ${chunkSize}`).toEqual(summary(ref));
    }
  });

  it('rewinds for endless replay, with a big and a small chunk', () => {
    const ref = readAll(file);
    for (const chunkSize of [undefined, 100, 50_000]) {
      const r = PcapReader.open(file, { chunkSize });
      for (let pass = 0; pass < 3; pass++) {
        let i = 0;
        while (r.next()) {
          expect(r.tsFrac).toBe(ref[i].tsFrac);
          expect(hex(r.buffer.subarray(r.offset, r.offset + r.capLen))).toBe(hex(ref[i].bytes));
          i++;
        }
        expect(i).toBe(226);
        r.rewind();
        expect(r.recordNumber).toBe(0);
      }
      r.close();
      expect(() => r.next()).toThrow(PcapClosedError);
    }
  });

  it('writes a byte-identical file when the writer uses the input variant', () => {
    const input = readFileSync(file);
    const out = convert(file, { snaplen: 262144 }, 'same.pcap');
    expect(Buffer.compare(readFileSync(out), input)).toBe(0);
    // The same through write() with the double tsNs, which rounds back to the exact µs.
    const out2 = tmpFile('same-tsns.pcap');
    const r = PcapReader.open(file);
    const w = PcapWriter.create(out2, { snaplen: 262144 });
    while (r.next()) w.write(r.buffer, r.offset, r.capLen, r.tsNs, r.origLen);
    r.close();
    w.close();
    expect(Buffer.compare(readFileSync(out2), input)).toBe(0);
  });

  it('keeps every record with the default writer options (snaplen 65535)', () => {
    const out = convert(file, {}, 'default.pcap');
    expect(PcapReader.open(out).header.snaplen).toBe(65535);
    expect(summary(readAll(out))).toEqual(summary(readAll(file)));
    expect(readFileSync(out).length).toBe(readFileSync(file).length);
  });

  it('converts µs to ns and back, keeping every timestamp', () => {
    const ref = readAll(file);
    const ns = convert(file, { nanosecond: true, snaplen: 262144 }, 'ns.pcap');
    const nsReader = PcapReader.open(ns);
    expect(nsReader.header.magic).toBe(PCAP_MAGIC_NANOSECOND);
    expect(nsReader.header.nanosecond).toBe(true);
    nsReader.close();
    const nsRecs = readAll(ns);
    expect(nsRecs.map((r) => [r.tsSec, r.tsFrac])).toEqual(
      ref.map((r) => [r.tsSec, r.tsFrac * 1000]),
    );
    expect(nsRecs.map((r) => hex(r.bytes))).toEqual(ref.map((r) => hex(r.bytes)));
    const back = convert(ns, { snaplen: 262144 }, 'back.pcap');
    expect(Buffer.compare(readFileSync(back), readFileSync(file))).toBe(0);
  });

  it('writes and reads big-endian files of both variants', () => {
    const ref = readAll(file);
    for (const nanosecond of [false, true]) {
      const out = convert(file, { littleEndian: false, nanosecond }, `be-${nanosecond}.pcap`);
      expect(hex(readFileSync(out).subarray(0, 4))).toBe(nanosecond ? 'a1b23c4d' : 'a1b2c3d4');
      const r = PcapReader.open(out);
      expect([r.header.littleEndian, r.header.nanosecond, r.header.linktype]).toEqual([
        false,
        nanosecond,
        1,
      ]);
      r.close();
      const recs = readAll(out);
      expect(recs.map((x) => hex(x.bytes))).toEqual(ref.map((x) => hex(x.bytes)));
      expect(recs.map((x) => x.tsFrac)).toEqual(ref.map((x) => x.tsFrac * (nanosecond ? 1000 : 1)));
    }
  });

  it('cuts records to the snaplen and keeps their original length (tcpdump -s 100)', () => {
    const ref = readAll(file);
    const out = convert(file, { snaplen: 100 }, 'snap100.pcap');
    const recs = readAll(out);
    expect(recs.map((r) => [r.capLen, r.origLen])).toEqual(
      ref.map((r) => [Math.min(100, r.capLen), r.origLen]),
    );
    expect(recs.map((r) => hex(r.bytes))).toEqual(ref.map((r) => hex(r.bytes.subarray(0, 100))));
  });

  it.skipIf(!TSHARK)('tshark reads what we wrote: same records, times and lengths', () => {
    console.log(`format.test.ts: interop with ${TSHARK}`);
    const ref = readAll(file);
    const cases: [string, PcapWriterOptions][] = [
      ['us-le', {}],
      ['ns-le', { nanosecond: true }],
      ['us-be', { littleEndian: false }],
      ['ns-be', { nanosecond: true, littleEndian: false }],
      ['snap64', { snaplen: 64 }],
    ];
    for (const [name, options] of cases) {
      const out = convert(file, options, `${name}.pcap`);
      const t = tsharkRead(out);
      expect([name, t.status, t.stderr]).toEqual([name, 0, '']);
      expect(t.lines).toEqual(
        ref.map((r) => `${r.tsSec}.${String(r.tsFrac).padStart(6, '0')}000\t${r.origLen}`),
      );
    }
  });
});

describe('writing and reading synthetic files', () => {
  it('round-trips nanosecond timestamps exactly (writeNs, copyFrom, {sec, frac})', () => {
    const a = tmpFile('syn-ns.pcap');
    writeSynthetic(a, 500, { nanosecond: true });
    const recs = readAll(a);
    expect(recs.length).toBe(500);
    recs.forEach((r, i) => {
      expect([r.tsSec, r.tsFrac]).toEqual([1_700_000_000 + i, (i * 123_456_789) % 1e9]);
      expect(r.capLen).toBe(60 + ((i * 397) % 1455));
      expect(r.bytes[7]).toBe((i * 31 + 7) & 0xff);
    });
    const b = convert(a, { nanosecond: true }, 'syn-ns-copy.pcap');
    expect(Buffer.compare(readFileSync(b), readFileSync(a))).toBe(0);
    const c = tmpFile('syn-ns-frac.pcap');
    const w = PcapWriter.create(c, { nanosecond: true });
    for (const r of recs) w.write(r.bytes, 0, r.capLen, { sec: r.tsSec, frac: r.tsFrac });
    w.close();
    expect(Buffer.compare(readFileSync(c), readFileSync(a))).toBe(0);
    // A microsecond file keeps the microseconds (truncated, as editcap does).
    const us = readAll(convert(a, {}, 'syn-us.pcap'));
    expect(us.map((r) => r.tsFrac)).toEqual(recs.map((r) => Math.floor(r.tsFrac / 1000)));
  });

  it('reads a nanosecond timestamp as tsNs (within 128 ns) and tsNsBigInt (exact)', () => {
    const f = tmpFile('one-ns.pcap');
    const w = PcapWriter.create(f, { nanosecond: true });
    w.writeNs(new Uint8Array(60), 0, 60, 1795625112, 796077123);
    w.write(new Uint8Array(60), 0, 60, 123_456_789_012);
    w.close();
    const r = PcapReader.open(f);
    r.next();
    expect(r.tsNsBigInt()).toBe(1795625112_796077123n);
    const err = BigInt(r.tsNs) - 1795625112_796077123n;
    expect(err >= -128n && err <= 128n).toBe(true);
    r.next();
    expect([r.tsSec, r.tsFrac, r.tsNs]).toEqual([123, 456_789_012, 123_456_789_012]);
    r.close();
  });

  it('handles a record as large as PCAP_MAX_CAPLEN with small chunks on both sides', () => {
    const f = tmpFile('huge.pcap');
    const big = new Uint8Array(PCAP_MAX_CAPLEN + 10).map((_, i) => (i * 13) & 0xff);
    const w = PcapWriter.create(f, { snaplen: PCAP_MAX_CAPLEN, chunkSize: 64 });
    w.write(big, 0, 60, 1e9);
    w.write(big, 0, big.length, 2e9); // cut to the snaplen
    w.write(big, 5, 70, 3e9);
    expect(w.records).toBe(3);
    w.close();
    expect(readFileSync(f).length).toBe(24 + 3 * 16 + 60 + PCAP_MAX_CAPLEN + 70);
    for (const chunkSize of [100, undefined]) {
      const recs = readAll(f, { chunkSize });
      expect(recs.map((r) => [r.tsSec, r.capLen, r.origLen])).toEqual([
        [1, 60, 60],
        [2, PCAP_MAX_CAPLEN, PCAP_MAX_CAPLEN + 10],
        [3, 70, 70],
      ]);
      expect(hex(recs[1].bytes)).toBe(hex(big.subarray(0, PCAP_MAX_CAPLEN)));
      expect(hex(recs[2].bytes)).toBe(hex(big.subarray(5, 75)));
    }
  });

  it('reads an empty capture (header only) as no records', () => {
    const f = tmpFile('empty.pcap');
    PcapWriter.create(f).close();
    expect(readFileSync(f).length).toBe(24);
    const r = PcapReader.open(f);
    expect(r.next()).toBe(false);
    r.rewind();
    expect(r.next()).toBe(false);
    r.close();
  });

  it('refuses bad options and use after close', () => {
    const f = tmpFile('opts.pcap');
    expect(() => PcapWriter.create(f, { snaplen: 0 })).toThrow(OptionError);
    expect(() => PcapWriter.create(f, { snaplen: 262145 })).toThrow(
      'snaplen must be an integer from 1 to 262144, got 262145',
    );
    expect(() => PcapWriter.create(f, { linktype: -1 })).toThrow(/^linktype must be/);
    expect(() => PcapWriter.create(f, { chunkSize: 10 })).toThrow(/^chunkSize must be/);
    expect(() => PcapReader.open(f, { chunkSize: 0 })).toThrow(OptionError);
    expect(() => PcapReader.open(join(TMP, 'missing.pcap'))).toThrow(
      expect.objectContaining({ code: 'ENOENT' }),
    );
    const w = PcapWriter.create(f);
    const b = new Uint8Array(100);
    expect(() => w.write(b, 50, 51, 0)).toThrow('offset, length must be a range inside');
    expect(() => w.write(b, 0, 60, -1)).toThrow(/^ts must be/);
    expect(() => w.write(b, 0, 60, { sec: 1, frac: 1_000_000 })).toThrow(
      'ts.frac must be an integer from 0 to 999999, got 1000000',
    );
    expect(() => w.write(b, 0, 60, 0, 59)).toThrow(/^origLen must be/);
    expect(() => w.writeNs(b, 0, 60, 1, 1e9)).toThrow(/^nsec must be/);
    expect(w.records).toBe(0);
    w.close();
    w.close();
    expect(() => w.write(b, 0, 60, 0)).toThrow(PcapClosedError);
    expect(() => w.flush()).toThrow(`${f}: the pcap writer is closed`);
  });
});

describe('corrupt and unsupported files', () => {
  const good = tmpFile('good.pcap');
  writeSynthetic(good, 20);
  const goodBytes = readFileSync(good);
  const offsets: number[] = [];
  {
    const r = PcapReader.open(good);
    while (r.next()) offsets.push(r.recordOffset);
    r.close();
  }

  function corrupt(name: string, bytes: Uint8Array): string {
    const f = tmpFile(name);
    writeFileSync(f, bytes);
    return f;
  }
  /** Reads until the error; returns it and how many records came before it. */
  function failure(f: string, options?: PcapReaderOptions): { error: unknown; records: number } {
    let records = 0;
    try {
      const r = PcapReader.open(f, options);
      try {
        while (r.next()) records++;
      } finally {
        r.close();
      }
    } catch (error) {
      return { error, records };
    }
    throw new Error(`${f} was read without an error`);
  }
  function expectFormatError(
    got: { error: unknown; records: number },
    file: string,
    offset: number,
    message: RegExp,
  ): void {
    const e = got.error as PcapFormatError;
    expect(e).toBeInstanceOf(PcapFormatError);
    expect([e.file, e.offset]).toEqual([file, offset]);
    expect(e.message).toContain(`${file}: `);
    expect(e.message).toContain(`byte offset ${offset}: `);
    expect(e.message).toMatch(message);
  }

  it('bad magic', () => {
    const b = Uint8Array.from(goodBytes);
    b.set([0xde, 0xad, 0xbe, 0xef], 0);
    const f = corrupt('magic.pcap', b);
    expectFormatError(failure(f), f, 0, /bad magic 0xdeadbeef: not a libpcap file/);
  });

  it('a pcapng file', () => {
    const b = Uint8Array.from(goodBytes);
    b.set([0x0a, 0x0d, 0x0d, 0x0a], 0);
    const f = corrupt('ng.pcap', b);
    expectFormatError(failure(f), f, 0, /pcapng file.*editcap -F pcap/);
  });

  it('an unsupported version', () => {
    const b = Uint8Array.from(goodBytes);
    b.set([1, 0], 4);
    const f = corrupt('version.pcap', b);
    expectFormatError(failure(f), f, 4, /unsupported pcap version 1\.4/);
  });

  it('a link type other than the one required', () => {
    const f = tmpFile('sll.pcap');
    writeSynthetic(f, 1, { linktype: LINKTYPE_LINUX_SLL });
    expect(PcapReader.open(f).header.linktype).toBe(113); // reported when not required
    const got = failure(f, { linktype: LINKTYPE_ETHERNET });
    expectFormatError(got, f, 20, /link type 113 \(LINUX_SLL\) where 1 \(ETHERNET\) is required/);
  });

  it('a truncated file header', () => {
    for (const n of [0, 10, 23]) {
      const f = corrupt(`header-${n}.pcap`, goodBytes.subarray(0, n));
      expectFormatError(failure(f), f, 0, new RegExp(`truncated file header: the file has ${n} `));
    }
  });

  it('a truncated record header at the end', () => {
    const f = corrupt('rechdr.pcap', Buffer.concat([goodBytes, goodBytes.subarray(24, 31)]));
    for (const chunkSize of [undefined, 100]) {
      const got = failure(f, { chunkSize });
      expect(got.records).toBe(20);
      expectFormatError(got, f, goodBytes.length, /record header needs 16 bytes but only 7 bytes/);
      expect((got.error as PcapFormatError).record).toBe(21);
      expect((got.error as Error).message).toContain('record 21 at byte offset');
    }
  });

  it('a truncated last record', () => {
    const f = corrupt('lastrec.pcap', goodBytes.subarray(0, goodBytes.length - 10));
    const last = offsets[19];
    const capLen = goodBytes.length - last - 16;
    for (const chunkSize of [undefined, 100, 1]) {
      const got = failure(f, { chunkSize });
      expect(got.records).toBe(19);
      expectFormatError(
        got,
        f,
        last,
        new RegExp(`says capLen ${capLen} but only ${capLen + 6} bytes remain in the file`),
      );
    }
  });

  it('an absurd capLen, and one over the snaplen', () => {
    for (const snaplen of [65535, 262144, 0, 0xffffffff]) {
      const b = Uint8Array.from(goodBytes);
      const dv = new DataView(b.buffer);
      dv.setUint32(16, snaplen, true);
      dv.setUint32(offsets[3] + 8, 0x7fffffff, true);
      const f = corrupt(`caplen-${snaplen}.pcap`, b);
      const got = failure(f, { chunkSize: 100 });
      expect(got.records).toBe(3);
      const limit =
        snaplen === 65535 ? 'the snaplen 65535 in the file header' : '262144 bytes \\(256 KiB\\)';
      expectFormatError(
        got,
        f,
        offsets[3],
        new RegExp(`capLen 2147483647 is larger than ${limit}`),
      );
    }

    const s = Uint8Array.from(goodBytes);
    new DataView(s.buffer).setUint32(16, 100, true); // snaplen 100, but records are longer
    const g = corrupt('snaplen.pcap', s);
    const got2 = failure(g);
    expect(got2.records).toBe(1); // the first record has 60 bytes, the second 457
    expectFormatError(got2, g, offsets[1], /capLen 457 is larger than the snaplen 100 in the file/);
  });
});
