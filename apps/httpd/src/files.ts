// Static files from a root folder, per lcore. The request-target's bytes are looked up as they
// are (a hash of the raw bytes, then a byte compare: no string per request on a hit); a miss
// decodes and normalises the path, refuses anything that leaves the root (".." past it, NUL,
// a symbolic link that points out), reads the file and keeps it, with its prebuilt heads. An
// entry is checked against the file system again once `revalidateMs` has passed, so edits show
// up within that time. When the contents kept pass `maxCacheBytes`, the cache starts over.
import { readFileSync, realpathSync, statSync } from 'node:fs';
import { extname, join, sep } from 'node:path';
import { ResponseSet } from './responses.js';

export interface FileCacheOptions {
  /** Re-check an entry after this long (default 1000 ms). */
  revalidateMs?: number;
  /** Bytes of file contents kept in memory, all entries together (default 256 MiB). */
  maxCacheBytes?: number;
  /** Files larger than this are refused with 500 (default 1 GiB): they would be read whole. */
  maxFileBytes?: number;
}

export const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.htm': 'text/html; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.css': 'text/css',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.ico': 'image/x-icon',
  '.wasm': 'application/wasm',
  '.pdf': 'application/pdf',
};

/** What a target resolves to: a file's responses, or an error status (400, 404, 500). */
export interface FileEntry {
  /** The raw request-target this entry answers. */
  readonly key: Uint8Array;
  status: number;
  /** For status 200: the file's responses (head and body). */
  response: ResponseSet | undefined;
  checkedAt: number;
  /** What the file system said last time: size and mtime, to see a change. */
  size: number;
  mtimeMs: number;
  path: string;
}

export class FileCache {
  readonly root: string;
  readonly options: Readonly<Required<FileCacheOptions>>;
  readonly #buckets = new Map<number, FileEntry[]>();
  #cachedBytes = 0;
  #entries = 0;

  constructor(root: string, options: FileCacheOptions = {}) {
    this.root = realpathSync(root);
    if (!statSync(this.root).isDirectory()) throw new Error(`--root ${root} is not a folder`);
    this.options = {
      revalidateMs: options.revalidateMs ?? 1000,
      maxCacheBytes: options.maxCacheBytes ?? 256 * 2 ** 20,
      maxFileBytes: options.maxFileBytes ?? 2 ** 30,
    };
  }

  /** The entry for request-target `t[0 .. len)` at `now` (ms, any monotonic clock). */
  lookup(t: Uint8Array, len: number, now: number): FileEntry {
    const h = hashBytes(t, len);
    let bucket = this.#buckets.get(h);
    if (bucket !== undefined) {
      for (let i = 0; i < bucket.length; i++) {
        const e = bucket[i];
        if (e.key.length === len && sameBytes(e.key, t, len)) {
          if (now - e.checkedAt >= this.options.revalidateMs) this.#revalidate(e, now);
          return e;
        }
      }
    } else {
      if (this.#entries >= 65536) {
        // A scan of many distinct targets: start over rather than grow without bound.
        this.#buckets.clear();
        this.#entries = 0;
        this.#cachedBytes = 0;
      }
      bucket = [];
      this.#buckets.set(h, bucket);
    }
    const e: FileEntry = {
      key: t.slice(0, len),
      status: 404,
      response: undefined,
      checkedAt: now,
      size: -1,
      mtimeMs: -1,
      path: '',
    };
    const path = resolveTarget(t, len);
    if (path === null) e.status = 400;
    else {
      e.path = path;
      this.#load(e);
    }
    bucket.push(e);
    this.#entries++;
    return e;
  }

  /** (Re)reads the file behind `e`. */
  #load(e: FileEntry): void {
    const full = this.#realFile(e.path);
    if (full === null) {
      e.status = 404;
      e.response = undefined;
      return;
    }
    const st = statSync(full);
    if (st.size > this.options.maxFileBytes) {
      e.status = 500;
      e.response = undefined;
      return;
    }
    const body = readFileSync(full);
    if (e.size > 0) this.#cachedBytes -= e.size;
    if (this.#cachedBytes + body.length > this.options.maxCacheBytes) {
      // Start over; connections still sending an evicted body keep their reference to it.
      this.#buckets.clear();
      this.#entries = 0;
      this.#cachedBytes = 0;
      this.#buckets.set(hashBytes(e.key, e.key.length), [e]);
      this.#entries = 1;
    }
    this.#cachedBytes += body.length;
    e.size = body.length;
    e.mtimeMs = st.mtimeMs;
    e.status = 200;
    const type = CONTENT_TYPES[extname(full).toLowerCase()] ?? 'application/octet-stream';
    e.response = new ResponseSet(200, `Content-Type: ${type}\r\n`, body);
  }

  #revalidate(e: FileEntry, now: number): void {
    e.checkedAt = now;
    if (e.status === 400) return;
    const full = this.#realFile(e.path);
    if (full === null) {
      if (e.size > 0) this.#cachedBytes -= e.size;
      e.status = 404;
      e.response = undefined;
      e.size = -1;
      return;
    }
    const st = statSync(full);
    if (e.status !== 200 || st.size !== e.size || st.mtimeMs !== e.mtimeMs) this.#load(e);
  }

  /**
   * The real path of the regular file `rel` names under the root (a folder's index.html), or
   * null when there is none or it resolves outside the root (a symbolic link pointing out).
   */
  #realFile(rel: string): string | null {
    let full: string;
    try {
      full = realpathSync(join(this.root, rel));
      if (full !== this.root && !full.startsWith(this.root + sep)) return null;
      let st = statSync(full);
      if (st.isDirectory()) {
        full = realpathSync(join(full, 'index.html'));
        if (!full.startsWith(this.root + sep)) return null;
        st = statSync(full);
      }
      return st.isFile() ? full : null;
    } catch {
      return null;
    }
  }
}

/**
 * The path a request-target names, relative to the root and normalised ('a/b.txt', '' for the
 * root), or null for a target that is malformed or climbs above the root. Takes origin-form
 * (/path?query) and absolute-form (http://host/path); percent-decodes (RFC 3986 2.1) before
 * resolving dot segments (RFC 3986 5.2.4), so %2e%2e%2f climbs as ../ does and is refused too.
 */
export function resolveTarget(t: Uint8Array, len: number): string | null {
  let start = 0;
  // absolute-form: scheme "://" authority, then the path (RFC 9112 3.2.2).
  if (len > 0 && t[0] !== 0x2f) {
    const text = latin1(t, 0, Math.min(len, 16)).toLowerCase();
    const scheme = text.startsWith('http://') ? 7 : text.startsWith('https://') ? 8 : -1;
    if (scheme < 0) return null;
    start = scheme;
    while (start < len && t[start] !== 0x2f && t[start] !== 0x3f) start++;
    if (start === len || t[start] !== 0x2f) return start === len ? '' : null;
  }
  let stop = start;
  while (stop < len && t[stop] !== 0x3f && t[stop] !== 0x23) stop++; // query, fragment
  const bytes = new Uint8Array(stop - start);
  let n = 0;
  for (let i = start; i < stop; i++) {
    let c = t[i];
    if (c === 0x25) {
      const hi = hex(t[i + 1]);
      const lo = hex(t[i + 2]);
      if (i + 2 >= stop || hi < 0 || lo < 0) return null;
      c = hi * 16 + lo;
      i += 2;
      if (c === 0) return null;
    }
    bytes[n++] = c;
  }
  let path: string;
  try {
    path = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(0, n));
  } catch {
    return null;
  }
  const out: string[] = [];
  for (const seg of path.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (out.length === 0) return null;
      out.pop();
      continue;
    }
    // A backslash is an ordinary byte on Linux, but never a separator we would honour.
    if (seg.includes('\\')) return null;
    out.push(seg);
  }
  return out.join('/');
}

function hex(c: number | undefined): number {
  if (c === undefined) return -1;
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

function latin1(t: Uint8Array, from: number, to: number): string {
  let s = '';
  for (let i = from; i < to; i++) s += String.fromCharCode(t[i]);
  return s;
}

/** FNV-1a over the bytes. */
function hashBytes(t: Uint8Array, len: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < len; i++) h = Math.imul(h ^ t[i], 0x01000193);
  return h >>> 0;
}

function sameBytes(a: Uint8Array, b: Uint8Array, len: number): boolean {
  for (let i = 0; i < len; i++) if (a[i] !== b[i]) return false;
  return true;
}
