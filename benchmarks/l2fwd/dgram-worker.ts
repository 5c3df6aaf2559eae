// The baseline: what a Node program forwarding UDP would be. A generator thread sends 18-byte
// datagrams (a 64-byte Ethernet frame on the wire) to the forwarder's socket as fast as the
// kernel takes them; the forwarder thread sends each datagram it receives on to the sink; the
// sink counts them in shared memory. All on 127.0.0.1.
import dgram from 'node:dgram';
import { parentPort, workerData } from 'node:worker_threads';

interface Data {
  role: 'sink' | 'forwarder' | 'generator';
  ctl: SharedArrayBuffer; // [0] stop flag, [1] sink count, [2] forwarder port, [3] sink port
}

const d = workerData as Data;
const ctl = new Int32Array(d.ctl);
const STOP = 0;
const COUNT = 1;
const FWD_PORT = 2;
const SINK_PORT = 3;

function untilStopped(fn: () => void): void {
  const timer = setInterval(() => {
    if (Atomics.load(ctl, STOP) !== 0) {
      clearInterval(timer);
      fn();
    }
  }, 10);
}

if (d.role === 'sink') {
  const s = dgram.createSocket('udp4');
  s.on('message', () => {
    Atomics.add(ctl, COUNT, 1);
  });
  s.bind(0, '127.0.0.1', () => {
    Atomics.store(ctl, SINK_PORT, s.address().port);
    parentPort!.postMessage('ready');
  });
  untilStopped(() => s.close());
} else if (d.role === 'forwarder') {
  const s = dgram.createSocket('udp4');
  const sinkPort = Atomics.load(ctl, SINK_PORT);
  s.on('message', (msg) => s.send(msg, sinkPort, '127.0.0.1'));
  s.bind(0, '127.0.0.1', () => {
    Atomics.store(ctl, FWD_PORT, s.address().port);
    parentPort!.postMessage('ready');
  });
  untilStopped(() => s.close());
} else {
  const s = dgram.createSocket('udp4');
  const payload = Buffer.alloc(18, 0x42);
  const port = Atomics.load(ctl, FWD_PORT);
  const burst = () => {
    if (Atomics.load(ctl, STOP) !== 0) {
      s.close();
      return;
    }
    for (let i = 0; i < 64; i++) s.send(payload, port, '127.0.0.1');
    setImmediate(burst);
  };
  parentPort!.postMessage('ready');
  burst();
}
