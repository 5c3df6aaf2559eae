import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { OptionError } from '@bypass/atomics-sync';

/**
 * The native addon (packages/eal/native, DESIGN.md "Drivers that touch the real world"): a small
 * C module on Node-API, built by `pnpm install` where a C toolchain exists. Everything in it
 * acts on the calling OS thread, so in a worker it affects only that worker. Where it is not
 * built, `loadNative()` returns null and `nativeUnavailableReason()` says why; callers degrade
 * (no CPU pinning, no tap ports) rather than fail.
 */
export interface NativeAddon {
  /** Pins the calling thread to exactly these CPUs (sched_setaffinity(0)). Throws a system
   * error (code EINVAL, EPERM, ...) if the kernel refuses, RangeError for a bad cpu number. */
  setAffinity(cpus: readonly number[]): void;
  /** The CPUs the calling thread may run on, ascending. */
  getAffinity(): number[];
  /** The calling thread's kernel thread id. */
  gettid(): number;
  /** CPUs online now. */
  cpuCount(): number;

  // TAP queues (the tap poll-mode driver). Everything here is one syscall or a loop of them;
  // failed syscalls throw a system-style Error (code, errno, syscall: 'open', 'ioctl', 'read',
  // 'write', 'close', 'socket'), bad arguments a TypeError (wrong type) or RangeError (out of
  // range) whose message starts "<function>: <argument>". fds are the process's own: any
  // thread may use them, and they are O_CLOEXEC, so child processes do not inherit them.

  /** Opens (creating if needed) TAP interface `ifname` (1 to 15 bytes) with `queues` queues
   * (1 to 256), one fd per queue: IFF_TAP | IFF_NO_PI | IFF_MULTI_QUEUE, plus IFF_VNET_HDR
   * when vnetHdr; each fd O_NONBLOCK and O_CLOEXEC. Returns the fds. Throws a system-style
   * Error, e.g. EPERM without CAP_NET_ADMIN, ENOENT without /dev/net/tun, EINVAL when
   * `ifname` exists and is not a multi-queue tap. Attaching to an existing multi-queue tap
   * adds queues, and the kernel applies this call's vnetHdr to the whole interface. A tap
   * that is not persistent disappears when its last fd is closed (even from another network
   * namespace it was moved to). */
  tapOpen(ifname: string, queues: number, vnetHdr: boolean): number[];
  /** TUNSETPERSIST on one of the fds: a persistent tap outlives its fds. */
  tapSetPersist(fd: number, persist: boolean): void;
  /** TUNSETOFFLOAD with TUN_F_* bits (CSUM=1, TSO4=2, TSO6=4, TSO_ECN=8, UFO=16; the kernel
   * refuses bits it does not know with EINVAL, and TSO without CSUM). Needs a vnetHdr tap to
   * mean anything: with CSUM the kernel may hand over frames with partial checksums
   * (virtio_net_hdr flags NEEDS_CSUM), with TSO4/6 frames up to 64 KiB (gso_type TCPV4/6). */
  tapSetOffload(fd: number, flags: number): void;
  /** TUNSETVNETHDRSZ: the size of the virtio-net header in front of each frame read and
   * written, 10 (the default) or 12 (virtio_net_hdr_mrg_rxbuf); the kernel refuses < 10. */
  tapSetVnetHdrSize(fd: number, size: number): void;
  /** Reads up to `max` frames, one read(2) each, until EAGAIN: frame i goes to
   * buf[offsets[i] .. offsets[i] + capacity) and lens[i] gets its length (the virtio-net
   * header included on a vnetHdr tap). Returns how many were read (0 when none was waiting).
   * `buf` is a Uint8Array, normally over a SharedArrayBuffer (mbuf memory); every
   * offsets[i] + capacity (i < max) must be within buf, and max <= offsets.length and
   * lens.length, or it throws RangeError before reading anything. The kernel cuts a frame
   * longer than `capacity` to `capacity` bytes and drops the rest (lens[i] is then
   * `capacity`: size slots for the MTU, plus 64 KiB with TSO). A read error after some
   * frames ends the batch (they are returned) and is thrown by the next call. */
  tapRead(
    fd: number,
    buf: Uint8Array,
    offsets: Uint32Array,
    capacity: number,
    lens: Uint32Array,
    max: number,
  ): number;
  /** Writes frames i = 0..n-1 from buf[offsets[i] .. offsets[i] + lens[i]) with one write(2)
   * each, stopping at EAGAIN; returns how many the kernel took. Checks every frame is within
   * buf first (RangeError). A write error after some frames ends the batch; the frame that
   * failed is then first in line and the next call throws its error (e.g. EIO while the
   * interface is down, EINVAL for a frame the kernel rejects). */
  tapWrite(fd: number, buf: Uint8Array, offsets: Uint32Array, lens: Uint32Array, n: number): number;
  /** close(2). Throws EBADF for an fd that is not open. */
  closeFd(fd: number): void;

  // Interface control through an AF_INET datagram socket's ioctls, in the calling process's
  // network namespace. Errors name the ioctl and interface ("ioctl SIOCSIFMTU tap0: ...").

  /** Sets or clears IFF_UP (SIOCGIFFLAGS, then SIOCSIFFLAGS). */
  ifSetUp(ifname: string, up: boolean): void;
  /** SIOCSIFMTU (a tap takes 68 to 65521; EINVAL otherwise). */
  ifSetMtu(ifname: string, mtu: number): void;
  /** SIOCSIFHWADDR with a 6-byte MAC (RangeError otherwise; EADDRNOTAVAIL for a multicast
   * or all-zero one). */
  ifSetMac(ifname: string, mac: Uint8Array): void;
  /** SIOCGIFHWADDR: the interface's 6-byte MAC, a new Uint8Array. */
  ifGetMac(ifname: string): Uint8Array;
  /** SIOCGIFINDEX: the interface index (ENODEV if there is no such interface). */
  ifIndex(ifname: string): number;
}

// Relative to this module, so it resolves the same from src/ (tests, tsx) and dist/ (built).
const addonUrl = new URL('../native/build/Release/bypass_native.node', import.meta.url);

let cached: { addon: NativeAddon | null; reason?: string } | undefined;

function load(): { addon: NativeAddon | null; reason?: string } {
  const unavailable = (reason: string) => ({
    addon: null,
    reason: `native addon unavailable: ${reason}; CPU pinning and tap ports are disabled`,
  });
  if (process.env.BYPASS_NATIVE === '0') return unavailable('BYPASS_NATIVE=0 is set');
  if (process.platform !== 'linux')
    return unavailable(`it needs Linux, this is ${process.platform}`);
  const path = fileURLToPath(addonUrl);
  if (!existsSync(path)) {
    return unavailable(
      `${path} is not built (pnpm install builds it; needs a C compiler, make, python3 and ` +
        'the Node headers; run `node native/build.mjs` in packages/eal to see why)',
    );
  }
  try {
    return { addon: createRequire(import.meta.url)(path) as NativeAddon };
  } catch (err) {
    return unavailable(`${path} does not load: ${(err as Error).message}`);
  }
}

/**
 * The addon, or null where it is not built or cannot load (see `nativeUnavailableReason`).
 * Loaded once per thread (each worker has its own module instance) and cached. Set
 * BYPASS_NATIVE=0 to run as if it were absent.
 */
export function loadNative(): NativeAddon | null {
  cached ??= load();
  return cached.addon;
}

/** Why `loadNative()` returns null, or undefined when the addon is loaded. */
export function nativeUnavailableReason(): string | undefined {
  loadNative();
  return cached?.reason;
}

/**
 * Pins the calling thread (the main thread, or the worker that calls it) to one CPU. Throws
 * OptionError for a cpu that is not an integer from 0 to the online CPU count - 1. Never throws
 * for platform reasons: without the addon, or if the kernel refuses (a CPU outside this
 * container's cpuset, say), it returns `{ pinned: false, reason }` and the thread runs unpinned.
 */
export function pinCurrentThread(cpu: number): { pinned: boolean; reason?: string } {
  const addon = loadNative();
  const online = addon ? addon.cpuCount() : Math.max(1, cpus().length);
  if (!Number.isInteger(cpu) || cpu < 0 || cpu >= online) {
    throw new OptionError('cpu', cpu, `an integer from 0 to ${online - 1} (${online} CPUs online)`);
  }
  if (!addon) return { pinned: false, reason: nativeUnavailableReason() };
  try {
    addon.setAffinity([cpu]);
    return { pinned: true };
  } catch (err) {
    return { pinned: false, reason: `cannot pin to CPU ${cpu}: ${(err as Error).message}` };
  }
}

/**
 * As pinCurrentThread, for the EAL: a CPU that does not exist here (an lcore id past the CPU
 * count, say) is a reason not to pin, reported like any other, not an exception.
 */
export function tryPin(cpu: number): { pinned: boolean; reason?: string } {
  try {
    return pinCurrentThread(cpu);
  } catch (err) {
    return { pinned: false, reason: `cannot pin to CPU ${cpu}: ${(err as Error).message}` };
  }
}
