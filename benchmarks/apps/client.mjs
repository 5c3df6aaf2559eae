// The client of `pnpm bench apps`, run in the client namespace (`ip netns exec NS node
// client.mjs ...`), the same program for the kernel and for bypass. A node:http(s) client on the
// kernel's sockets of the client namespace; TLS certificates are not checked (self-signed).
//
//   client.mjs probe URL MS
//     GETs URL until it answers 200, for at most MS ms; prints {"ok":true,"ms":N} or
//     {"ok":false,"error":"..."} (the last error).
//   client.mjs transfer BASE POSTS DOWNLOADS POST_BYTES DOWNLOAD_BYTES
//     Over one keep-alive connection (a new one after an error): uncounted POSTs for 1 s, then
//     POSTS times POST BASE/echo with POST_BYTES bytes, timed from
//     the request to the last byte of the echo (checked: same length, same bytes), then uncounted
//     downloads for 1 s and DOWNLOADS times GET BASE/download, timed the same way (checked:
//     DOWNLOAD_BYTES bytes). Prints
//     {"postMs":[...],"downloadMBps":[...],"postErrors":N,"postTimeouts":N,"downloadErrors":N,
//     "downloadTimeouts":N,"postWarmups":N,"downloadWarmups":N,"errors":["first few messages"]}.
import http from 'node:http';
import https from 'node:https';

const POST_TIMEOUT_MS = 5_000;
/** Uncounted transfers of each kind before the counted ones, for at least this long. */
const WARMUP_MS = 1_000;
const DOWNLOAD_TIMEOUT_MS = 10_000;
/** After this long, the remaining requests of a transfer are counted as errors, not made. */
const TRANSFER_BUDGET_MS = 30_000;

const [mode, ...args] = process.argv.slice(2);

function say(obj) {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}

function lib(url) {
  return url.protocol === 'https:' ? https : http;
}

class Timeout extends Error {
  name = 'Timeout';
}

/** One request: resolves with the status and the response's byte count (and its bytes when
 * `keep`), rejects on an error or after `ms` (a Timeout; the socket is destroyed). */
function request(url, agent, { method = 'GET', body, keep = false, ms }) {
  return new Promise((resolve, reject) => {
    const headers = body ? { 'content-type': 'application/octet-stream' } : {};
    const req = lib(url).request(url, { method, agent, headers, rejectUnauthorized: false });
    const timer = setTimeout(
      () => req.destroy(new Timeout(`${method} ${url.pathname}: no complete answer in ${ms} ms`)),
      ms,
    );
    req.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    req.on('response', (res) => {
      let bytes = 0;
      const chunks = [];
      res.on('data', (c) => {
        bytes += c.length;
        if (keep) chunks.push(c);
      });
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode, bytes, body: keep ? Buffer.concat(chunks) : undefined });
      });
      res.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
    req.end(body);
  });
}

async function probe(urlS, msS) {
  const url = new URL(urlS);
  const t0 = performance.now();
  const end = t0 + Number(msS);
  let last = 'no attempt';
  while (performance.now() < end) {
    try {
      const r = await request(url, false, { ms: Math.max(100, end - performance.now()) });
      if (r.status === 200) return say({ ok: true, ms: Math.round(performance.now() - t0) });
      last = `HTTP ${r.status}`;
    } catch (e) {
      last = `${e.code ?? e.name}: ${e.message}`;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  say({ ok: false, error: last });
}

async function transfer(baseS, postsS, downloadsS, postBytesS, downloadBytesS) {
  const base = new URL(baseS);
  const agent = new (lib(base).Agent)({ keepAlive: true, maxSockets: 1 });
  const postBody = Buffer.allocUnsafe(Number(postBytesS));
  for (let i = 0; i < postBody.length; i++) postBody[i] = (i * 7) & 0xff;
  const downloadBytes = Number(downloadBytesS);
  const out = {
    postMs: [],
    downloadMBps: [],
    postErrors: 0,
    postTimeouts: 0,
    downloadErrors: 0,
    downloadTimeouts: 0,
    errors: [],
  };
  const started = performance.now();
  const fail = (kind, e) => {
    if (e instanceof Timeout) out[`${kind}Timeouts`]++;
    else out[`${kind}Errors`]++;
    if (out.errors.length < 5) out.errors.push(`${kind}: ${e.code ?? e.name}: ${e.message}`);
  };
  const post = async () => {
    const t0 = performance.now();
    const r = await request(new URL('/echo', base), agent, {
      method: 'POST',
      body: postBody,
      keep: true,
      ms: POST_TIMEOUT_MS,
    });
    const ms = performance.now() - t0;
    if (r.status !== 200) throw new Error(`POST /echo: HTTP ${r.status}`);
    if (!postBody.equals(r.body))
      throw new Error(`POST /echo: ${r.bytes} bytes came back, not the ${postBody.length} sent`);
    return ms;
  };
  const download = async () => {
    const t0 = performance.now();
    const r = await request(new URL('/download', base), agent, { ms: DOWNLOAD_TIMEOUT_MS });
    const s = (performance.now() - t0) / 1000;
    if (r.status !== 200) throw new Error(`GET /download: HTTP ${r.status}`);
    if (r.bytes !== downloadBytes)
      throw new Error(`GET /download: ${r.bytes} bytes, not ${downloadBytes}`);
    return r.bytes / 1e6 / s;
  };
  const overBudget = () => performance.now() - started > TRANSFER_BUDGET_MS;
  for (const [kind, fn, n, into] of [
    ['post', post, Number(postsS), out.postMs],
    ['download', download, Number(downloadsS), out.downloadMBps],
  ]) {
    // Uncounted first, for WARMUP_MS (at least one): both sides run JIT-compiled JavaScript (the
    // app's streams; on bypass the TCP stack too) and are measured warm, as wrk's warm-up does.
    const warmUntil = performance.now() + WARMUP_MS;
    let warm = 0;
    while ((warm === 0 || performance.now() < warmUntil) && !overBudget()) {
      warm++;
      try {
        await fn();
      } catch (e) {
        fail(kind, e);
        break;
      }
    }
    out[`${kind}Warmups`] = warm;
    for (let i = 0; i < n; i++) {
      if (overBudget()) {
        fail(kind, new Error(`not made: the transfer ran past ${TRANSFER_BUDGET_MS} ms`));
        continue;
      }
      try {
        const v = await fn();
        into.push(Math.round(v * 1000) / 1000);
      } catch (e) {
        fail(kind, e);
      }
    }
  }
  agent.destroy();
  say(out);
}

if (mode === 'probe') await probe(...args);
else if (mode === 'transfer') await transfer(...args);
else {
  process.stderr.write(`client.mjs: unknown mode ${mode}; use probe or transfer\n`);
  process.exit(2);
}
