// The kernel side of `pnpm bench tcp-tap`, run inside the benchmark's network namespace with
// `ip netns exec NS node peer.mjs ...`: a plain node:net program, the same for the baseline
// (node:net in the root namespace over a veth pair) and the subject (our stack on a tap port).
//
//   peer.mjs sink BIND_IP BYTES [--sha]
//     Listens on BIND_IP:0, accepts one connection, counts BYTES bytes. When it holds the last one
//     it reads the clock and prints {"bytes":N,"t1":"<ns>"} (plus "sha": sha256 hex with --sha),
//     then waits for the other side's FIN, closes and exits.
//   peer.mjs source BIND_IP BYTES CHUNK
//     Listens on BIND_IP:0, accepts one connection and writes BYTES bytes to it in CHUNK-byte
//     writes, waiting for 'drain' whenever write() returns false, then end()s; prints
//     {"bytes":N,"t0":"<ns>"} (t0: when it accepted) once the stream is finished, and exits.
//
// Both print "go PORT" once listening. The stream: the byte at offset i is i & 0xff (the same as
// benchmarks/tcp-bulk/common.ts). Clocks: process.hrtime.bigint(), CLOCK_MONOTONIC, the same
// clock as the benchmark's process (namespaces do not change it). Both exit when their stdin
// closes (the benchmark went away).
import { createHash } from 'node:crypto';
import { createServer } from 'node:net';

const [mode, bindIp, bytesS, ...rest] = process.argv.slice(2);
const bytes = Number(bytesS);
process.stdin.on('end', () => process.exit(3));
process.stdin.resume();

function say(obj) {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}

function die(message) {
  process.stderr.write(`peer.mjs ${mode}: ${message}\n`);
  process.exit(1);
}

function pattern(chunk) {
  const b = Buffer.allocUnsafe(chunk + 255);
  for (let i = 0; i < b.length; i++) b[i] = i & 0xff;
  return b;
}

function serve(onConnection) {
  const server = createServer((sock) => {
    server.close();
    sock.on('error', (e) => die(e.message));
    onConnection(sock);
  });
  server.on('error', (e) => die(e.message));
  server.listen(0, bindIp, () => process.stdout.write(`go ${server.address().port}\n`));
}

if (!Number.isSafeInteger(bytes) || bytes < 1) die(`bad byte count ${bytesS}`);

if (mode === 'sink') {
  const hash = rest.includes('--sha') ? createHash('sha256') : undefined;
  serve((sock) => {
    let got = 0;
    let done = false;
    sock.on('data', (b) => {
      got += b.length;
      hash?.update(b);
      if (got > bytes) die(`received ${got} bytes, more than the ${bytes} expected`);
      if (got === bytes && !done) {
        const t1 = process.hrtime.bigint();
        done = true;
        say({ bytes: got, t1: String(t1), sha: hash?.digest('hex') });
      }
    });
    sock.on('end', () => {
      if (!done) die(`the sender ended after ${got} of ${bytes} bytes`);
      sock.end(() => process.exit(0));
    });
  });
} else if (mode === 'source') {
  const chunk = Number(rest[0]);
  if (!Number.isSafeInteger(chunk) || chunk < 1) die(`bad chunk ${rest[0]}`);
  const buf = pattern(chunk);
  serve((sock) => {
    const t0 = process.hrtime.bigint();
    let sent = 0;
    const pump = () => {
      while (sent < bytes) {
        const n = Math.min(chunk, bytes - sent);
        const s = sent & 0xff;
        sent += n;
        if (!sock.write(buf.subarray(s, s + n))) {
          sock.once('drain', pump);
          return;
        }
      }
      sock.end(() => {
        say({ bytes: sent, t0: String(t0) });
      });
    };
    // Exit once the other side has closed too (its FIN after it counted everything).
    sock.on('close', () => process.exit(0));
    sock.resume();
    pump();
  });
} else {
  die(`unknown mode ${mode}; use sink or source`);
}
