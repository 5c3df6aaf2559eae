/**
 * Ethernet II frames (IEEE 802.3 with an EtherType), aware of one IEEE 802.1Q VLAN tag.
 *
 * Accessors read and write fields of the frame at `bytes[off..]` and allocate nothing. MAC
 * addresses are 48-bit unsigned integers (exact in a JS number): compare with ===, no copies.
 * `EthernetRepr` with ethernetParse()/ethernetEmit() is for tests and slow paths.
 */

import { get16, set16 } from './bytes.js';
import { checkInt, checkRoom } from './checksum.js';

// Field offsets (bytes from the start of the frame).
export const ETH_DST = 0;
export const ETH_SRC = 6;
export const ETH_TYPE = 12;
/** Bytes of an untagged Ethernet II header. */
export const ETH_HEADER_LEN = 14;
/** Bytes an 802.1Q tag adds: the TPID 0x8100 (where the EtherType was) and the TCI. */
export const ETH_VLAN_TAG_LEN = 4;
/** Offset of the TCI (PCP:3, DEI:1, VID:12) in a tagged frame, and of the inner EtherType. */
export const ETH_VLAN_TCI = 14;
export const ETH_VLAN_INNER_TYPE = 16;
/** The shortest frame on the wire without FCS (IEEE 802.3): shorter frames are padded. */
export const ETH_MIN_FRAME_LEN = 60;

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const ETHERTYPE_VLAN = 0x8100;
export const ETHERTYPE_IPV6 = 0x86dd;

export const MAC_BROADCAST = 0xffff_ffff_ffff;

/** No VLAN tag: what ethVlanId() returns for an untagged frame. */
export const ETH_NO_VLAN = -1;

/** The 48-bit MAC address at b[o..o+6) as an integer. */
export function getMac(b: Uint8Array, o: number): number {
  return (
    get16(b, o) * 0x1_0000_0000 + (((b[o + 2] << 24) | (get16(b, o + 3) << 8) | b[o + 5]) >>> 0)
  );
}
/** Writes the 48-bit MAC address `mac` at b[o..o+6). */
export function setMac(b: Uint8Array, o: number, mac: number): void {
  set16(b, o, Math.floor(mac / 0x1_0000_0000));
  const lo = mac >>> 0;
  b[o + 2] = lo >>> 24;
  b[o + 3] = lo >>> 16;
  b[o + 4] = lo >>> 8;
  b[o + 5] = lo;
}
/** True for a group (multicast or broadcast) address: the I/G bit of the first octet. */
export function macIsMulticast(mac: number): boolean {
  return Math.floor(mac / 0x100_0000_0000) % 2 === 1;
}

export function ethDst(b: Uint8Array, off: number): number {
  return getMac(b, off + ETH_DST);
}
export function setEthDst(b: Uint8Array, off: number, mac: number): void {
  setMac(b, off + ETH_DST, mac);
}
export function ethSrc(b: Uint8Array, off: number): number {
  return getMac(b, off + ETH_SRC);
}
export function setEthSrc(b: Uint8Array, off: number, mac: number): void {
  setMac(b, off + ETH_SRC, mac);
}
/** The EtherType field at offset 12 as is: 0x8100 for a tagged frame. */
export function ethRawType(b: Uint8Array, off: number): number {
  return get16(b, off + ETH_TYPE);
}
/** Sets the EtherType field at offset 12 (for an untagged frame, the payload's EtherType). */
export function setEthRawType(b: Uint8Array, off: number, type: number): void {
  set16(b, off + ETH_TYPE, type);
}
/** True when the frame carries an 802.1Q tag. */
export function ethIsTagged(b: Uint8Array, off: number): boolean {
  return get16(b, off + ETH_TYPE) === ETHERTYPE_VLAN;
}
/** The payload's EtherType, past one 802.1Q tag if there is one. */
export function ethType(b: Uint8Array, off: number): number {
  const t = get16(b, off + ETH_TYPE);
  return t === ETHERTYPE_VLAN ? get16(b, off + ETH_VLAN_INNER_TYPE) : t;
}
/** The 802.1Q VLAN identifier (0..4095), or ETH_NO_VLAN (-1) for an untagged frame. */
export function ethVlanId(b: Uint8Array, off: number): number {
  return ethIsTagged(b, off) ? get16(b, off + ETH_VLAN_TCI) & 0x0fff : ETH_NO_VLAN;
}
/** The 802.1Q priority code point (0..7), or 0 for an untagged frame. */
export function ethVlanPcp(b: Uint8Array, off: number): number {
  return ethIsTagged(b, off) ? b[off + ETH_VLAN_TCI] >>> 5 : 0;
}
/** Bytes of the Ethernet header: 14, or 18 with an 802.1Q tag. */
export function ethHeaderLen(b: Uint8Array, off: number): number {
  return ethIsTagged(b, off) ? ETH_HEADER_LEN + ETH_VLAN_TAG_LEN : ETH_HEADER_LEN;
}

/** The parsed form of an Ethernet II header. */
export interface EthernetRepr {
  dst: number;
  src: number;
  /** The payload's EtherType (the inner one when tagged). */
  etherType: number;
  /** 802.1Q VLAN id 0..4095, or ETH_NO_VLAN (-1 or absent) for an untagged frame. */
  vlanId?: number;
  /** 802.1Q priority 0..7 (tagged frames only; default 0). */
  pcp?: number;
}

/** Why ethernetParse() refused a frame. */
export const EthernetError = { TooShort: 1 } as const;
export type EthernetError = (typeof EthernetError)[keyof typeof EthernetError];

/** Checks that the `len` bytes at b[off..] hold a whole Ethernet header: 0 or an EthernetError. */
export function ethernetCheck(b: Uint8Array, off: number, len: number): 0 | EthernetError {
  if (len < ETH_HEADER_LEN) return EthernetError.TooShort;
  if (ethIsTagged(b, off) && len < ETH_HEADER_LEN + ETH_VLAN_TAG_LEN) return EthernetError.TooShort;
  return 0;
}

/** Parses the header of the `len`-byte frame at b[off..]; the payload starts at ethHeaderLen(). */
export function ethernetParse(
  b: Uint8Array,
  off: number,
  len: number,
): EthernetRepr | EthernetError {
  const err = ethernetCheck(b, off, len);
  if (err !== 0) return err;
  const repr: EthernetRepr = {
    dst: ethDst(b, off),
    src: ethSrc(b, off),
    etherType: ethType(b, off),
  };
  if (ethIsTagged(b, off)) {
    repr.vlanId = ethVlanId(b, off);
    repr.pcp = ethVlanPcp(b, off);
  }
  return repr;
}

/** Bytes ethernetEmit() writes for `repr`: 14, or 18 with a VLAN tag. */
export function ethernetHeaderLen(repr: EthernetRepr): number {
  return isTagged(repr) ? ETH_HEADER_LEN + ETH_VLAN_TAG_LEN : ETH_HEADER_LEN;
}

function isTagged(repr: EthernetRepr): boolean {
  return repr.vlanId !== undefined && repr.vlanId !== ETH_NO_VLAN;
}

/**
 * Writes the header for `repr` at b[off..] and returns its length (14 or 18). Throws WireError
 * when `b` is too short or a field is out of range.
 */
export function ethernetEmit(repr: EthernetRepr, b: Uint8Array, off: number): number {
  const len = ethernetHeaderLen(repr);
  checkRoom('Ethernet header', b, off, len);
  checkInt('dst', repr.dst, MAC_BROADCAST);
  checkInt('src', repr.src, MAC_BROADCAST);
  checkInt('etherType', repr.etherType, 0xffff);
  setEthDst(b, off, repr.dst);
  setEthSrc(b, off, repr.src);
  if (isTagged(repr)) {
    const vid = repr.vlanId ?? 0;
    const pcp = repr.pcp ?? 0;
    checkInt('vlanId', vid, 0x0fff);
    checkInt('pcp', pcp, 7);
    set16(b, off + ETH_TYPE, ETHERTYPE_VLAN);
    set16(b, off + ETH_VLAN_TCI, (pcp << 13) | vid);
    set16(b, off + ETH_VLAN_INNER_TYPE, repr.etherType);
  } else {
    set16(b, off + ETH_TYPE, repr.etherType);
  }
  return len;
}
