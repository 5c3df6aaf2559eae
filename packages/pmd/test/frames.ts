// Frames a test builds by hand to answer the kernel (the user-space stack will do this for real).

function sum16(b: Uint8Array, off: number, len: number): number {
  let s = 0;
  for (let i = 0; i < len; i += 2) s += (b[off + i] << 8) | (i + 1 < len ? b[off + i + 1] : 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

export const etherType = (f: Uint8Array) => (f[12] << 8) | f[13];
export const ipProto = (f: Uint8Array) => f[23];

/** An ARP reply to the ARP request `req`, from `mac` (which owns the requested address). */
export function arpReply(req: Uint8Array, mac: readonly number[]): Uint8Array {
  const r = new Uint8Array(60);
  r.set(req.subarray(6, 12), 0); // to the asker
  r.set(mac, 6);
  r.set([0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 2], 12); // ARP, Ethernet/IPv4, reply
  r.set(mac, 22); // sender MAC
  r.set(req.subarray(38, 42), 28); // sender IP = the target IP asked for
  r.set(req.subarray(22, 28), 32); // target MAC = the asker's
  r.set(req.subarray(28, 32), 38); // target IP = the asker's IP
  return r;
}

/** An ICMP echo reply to the echo request `req` (IPv4, no options). */
export function icmpEchoReply(req: Uint8Array): Uint8Array {
  const r = Uint8Array.from(req);
  r.set(req.subarray(6, 12), 0);
  r.set(req.subarray(0, 6), 6);
  r.set(req.subarray(30, 34), 26);
  r.set(req.subarray(26, 30), 30);
  r[24] = 0;
  r[25] = 0;
  const c = sum16(r, 14, 20);
  r[24] = c >> 8;
  r[25] = c & 0xff;
  const ipLen = (r[16] << 8) | r[17];
  r[34] = 0; // echo reply
  r[36] = 0;
  r[37] = 0;
  const ic = sum16(r, 34, ipLen - 20);
  r[36] = ic >> 8;
  r[37] = ic & 0xff;
  return r;
}
