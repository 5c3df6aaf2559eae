// The node:dgram side of `pnpm bench tap`, run inside the benchmark's network namespace with
// `ip netns exec NS node peer.mjs ...`: what a Node program that used the kernel's UDP sockets
// instead of the tap would do.
//
//   peer.mjs send SRC_IP DST_IP DST_PORT PAYLOAD FLOWS WARM_S WINDOW_S TAIL_S
//     FLOWS sockets bound to SRC_IP:40000.. and connected to DST_IP:DST_PORT send PAYLOAD-byte
//     datagrams round robin, 64 send() calls per turn of the event loop (setImmediate between
//     turns, so the socket's completions run), as fast as Node goes. Counts sends that completed:
//     calls made minus those still queued in libuv (getSendQueueCount), or that failed.
//   peer.mjs recv BIND_IP PORT WARM_S WINDOW_S
//     One socket bound to BIND_IP:PORT (receive buffer raised to 4 MiB) counts 'message' events.
//     Its clock starts at the first datagram.
//
// Both print "go" when they are running (send: first batch out; recv: bound), then one JSON line:
// datagrams counted in the window [WARM_S, WARM_S + WINDOW_S) of their own clock and the window's
// length. Both exit when their stdin closes (the benchmark went away).
import dgram from 'node:dgram';

const [mode, ...a] = process.argv.slice(2);
const clock = () => performance.now() / 1000;
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();

function report(count, seconds) {
  process.stdout.write(`${JSON.stringify({ sent: count, seconds, method: mode })}\n`, () =>
    process.exit(0),
  );
}

function bindAll(sockets, ip, firstPort) {
  return Promise.all(
    sockets.map(
      (s, i) =>
        new Promise((resolve, reject) => {
          s.once('error', reject);
          s.bind(firstPort + i, ip, () => {
            s.off('error', reject);
            resolve();
          });
        }),
    ),
  );
}

if (mode === 'send') {
  const [src, dst, dportS, payloadS, flowsS, warmS, windowS, tailS] = a;
  const dport = Number(dportS);
  const flows = Number(flowsS);
  const data = Buffer.alloc(Number(payloadS), 0x42);
  const socks = Array.from({ length: flows }, () =>
    dgram.createSocket({ type: 'udp4', sendBufferSize: 1 << 22 }),
  );
  let failed = 0;
  for (const s of socks) s.on('error', () => failed++);
  await bindAll(socks, src, 40000);
  // Connected: send() then skips the per-datagram address lookup (about twice as fast).
  await Promise.all(socks.map((s) => new Promise((resolve) => s.connect(dport, dst, resolve))));
  let calls = 0;
  const done = () => {
    let queued = 0;
    for (const s of socks) queued += s.getSendQueueCount();
    return calls - queued - failed;
  };
  const t0 = clock();
  const w0 = t0 + Number(warmS);
  const w1 = w0 + Number(windowS);
  const end = w1 + Number(tailS);
  let first;
  let last;
  let k = 0;
  const turn = () => {
    for (let i = 0; i < 64; i++) socks[(k + i) % flows].send(data);
    k += 64;
    calls += 64;
    const t = clock();
    if (first === undefined) {
      if (t >= w0) first = [t, done()];
    } else if (last === undefined) {
      if (t >= w1) last = [t, done()];
    } else if (t >= end) {
      for (const s of socks) s.close();
      report(last[1] - first[1], last[0] - first[0]);
      return;
    }
    setImmediate(turn);
  };
  turn();
  process.stdout.write('go\n');
} else if (mode === 'recv') {
  const [ip, portS, warmS, windowS] = a;
  const s = dgram.createSocket({ type: 'udp4', recvBufferSize: 1 << 22 });
  let count = 0;
  let w0 = 0;
  let w1 = 0;
  let first;
  s.on('message', () => {
    if (count++ === 0) {
      w0 = clock() + Number(warmS);
      w1 = w0 + Number(windowS);
    }
  });
  // Window edges are checked every millisecond (a check per message would be the receiver's
  // own cost, not Node's).
  const timer = setInterval(() => {
    if (count === 0) return;
    const t = clock();
    if (first === undefined) {
      if (t >= w0) first = [t, count];
    } else if (t >= w1) {
      clearInterval(timer);
      s.close();
      report(count - first[1], t - first[0]);
    }
  }, 1);
  await bindAll([s], ip, Number(portS));
  process.stdout.write('go\n');
} else {
  console.error(`peer.mjs: unknown mode ${mode}`);
  process.exit(2);
}
