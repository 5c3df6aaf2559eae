/**
 * ARP for IPv4 over Ethernet (RFC 826): the 28-byte packet with htype 1, ptype 0x0800, hlen 6,
 * plen 4. Hardware addresses are 48-bit integers and protocol addresses uint32 (see
 * ethernet.ts, ipv4.ts); accessors allocate nothing. `ArpRepr` is for tests and slow paths.
 */

import { get16, get32, set16, set32 } from './bytes.js';
import { checkInt, checkRoom } from './checksum.js';
import { ETHERTYPE_IPV4, getMac, MAC_BROADCAST, setMac } from './ethernet.js';

export const ARP_HTYPE = 0;
export const ARP_PTYPE = 2;
export const ARP_HLEN = 4;
export const ARP_PLEN = 5;
export const ARP_OPER = 6;
export const ARP_SHA = 8;
export const ARP_SPA = 14;
export const ARP_THA = 18;
export const ARP_TPA = 24;
/** Bytes of an Ethernet/IPv4 ARP packet. */
export const ARP_LEN = 28;

export const ARP_HTYPE_ETHERNET = 1;
export const ARP_OP_REQUEST = 1;
export const ARP_OP_REPLY = 2;

export function arpHtype(b: Uint8Array, off: number): number {
  return get16(b, off + ARP_HTYPE);
}
export function arpPtype(b: Uint8Array, off: number): number {
  return get16(b, off + ARP_PTYPE);
}
export function arpHlen(b: Uint8Array, off: number): number {
  return b[off + ARP_HLEN];
}
export function arpPlen(b: Uint8Array, off: number): number {
  return b[off + ARP_PLEN];
}
export function arpOper(b: Uint8Array, off: number): number {
  return get16(b, off + ARP_OPER);
}
export function setArpOper(b: Uint8Array, off: number, op: number): void {
  set16(b, off + ARP_OPER, op);
}
/** Sender hardware address. */
export function arpSha(b: Uint8Array, off: number): number {
  return getMac(b, off + ARP_SHA);
}
export function setArpSha(b: Uint8Array, off: number, mac: number): void {
  setMac(b, off + ARP_SHA, mac);
}
/** Sender protocol (IPv4) address. */
export function arpSpa(b: Uint8Array, off: number): number {
  return get32(b, off + ARP_SPA);
}
export function setArpSpa(b: Uint8Array, off: number, ip: number): void {
  set32(b, off + ARP_SPA, ip);
}
/** Target hardware address (zero in a request, by convention). */
export function arpTha(b: Uint8Array, off: number): number {
  return getMac(b, off + ARP_THA);
}
export function setArpTha(b: Uint8Array, off: number, mac: number): void {
  setMac(b, off + ARP_THA, mac);
}
/** Target protocol (IPv4) address. */
export function arpTpa(b: Uint8Array, off: number): number {
  return get32(b, off + ARP_TPA);
}
export function setArpTpa(b: Uint8Array, off: number, ip: number): void {
  set32(b, off + ARP_TPA, ip);
}

/** Why arpCheck()/arpParse() refused a packet. */
export const ArpError = {
  /** Fewer than 28 bytes. */
  TooShort: 1,
  /** Not Ethernet/IPv4 (htype, ptype, hlen or plen differ). */
  Unsupported: 2,
  /** An operation other than request (1) or reply (2). */
  BadOperation: 3,
} as const;
export type ArpError = (typeof ArpError)[keyof typeof ArpError];

/** 0 when the `len` bytes at b[off..] are an Ethernet/IPv4 ARP request or reply, else why not. */
export function arpCheck(b: Uint8Array, off: number, len: number): 0 | ArpError {
  if (len < ARP_LEN) return ArpError.TooShort;
  if (
    arpHtype(b, off) !== ARP_HTYPE_ETHERNET ||
    arpPtype(b, off) !== ETHERTYPE_IPV4 ||
    arpHlen(b, off) !== 6 ||
    arpPlen(b, off) !== 4
  ) {
    return ArpError.Unsupported;
  }
  const op = arpOper(b, off);
  if (op !== ARP_OP_REQUEST && op !== ARP_OP_REPLY) return ArpError.BadOperation;
  return 0;
}

/** The parsed form of an Ethernet/IPv4 ARP packet. */
export interface ArpRepr {
  /** ARP_OP_REQUEST or ARP_OP_REPLY. */
  operation: number;
  senderHw: number;
  senderIp: number;
  targetHw: number;
  targetIp: number;
}

export function arpParse(b: Uint8Array, off: number, len: number): ArpRepr | ArpError {
  const err = arpCheck(b, off, len);
  if (err !== 0) return err;
  return {
    operation: arpOper(b, off),
    senderHw: arpSha(b, off),
    senderIp: arpSpa(b, off),
    targetHw: arpTha(b, off),
    targetIp: arpTpa(b, off),
  };
}

/** Writes the 28-byte packet for `repr` at b[off..] and returns 28. Throws WireError for a bad field or a short buffer. */
export function arpEmit(repr: ArpRepr, b: Uint8Array, off: number): number {
  checkRoom('ARP packet', b, off, ARP_LEN);
  checkInt('operation', repr.operation, 0xffff);
  checkInt('senderHw', repr.senderHw, MAC_BROADCAST);
  checkInt('targetHw', repr.targetHw, MAC_BROADCAST);
  checkInt('senderIp', repr.senderIp, 0xffff_ffff);
  checkInt('targetIp', repr.targetIp, 0xffff_ffff);
  set16(b, off + ARP_HTYPE, ARP_HTYPE_ETHERNET);
  set16(b, off + ARP_PTYPE, ETHERTYPE_IPV4);
  b[off + ARP_HLEN] = 6;
  b[off + ARP_PLEN] = 4;
  setArpOper(b, off, repr.operation);
  setArpSha(b, off, repr.senderHw);
  setArpSpa(b, off, repr.senderIp);
  setArpTha(b, off, repr.targetHw);
  setArpTpa(b, off, repr.targetIp);
  return ARP_LEN;
}
