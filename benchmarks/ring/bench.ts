// pnpm bench ring: objects moved per second (M obj/s, counted at the consumer) through a
// @bypass/ring between worker threads: SP/SC at bursts 1, 8, 32 and 256, and MP/MC with 2
// producers and 2 consumers at burst 32; against MessagePort postMessage (one message per
// object, and one Uint32Array of 32 per message) and ringbuf.js, the registry's SAB SPSC ring,
// at burst 32. Every run starts fresh workers; they meet at a Barrier, warm up, then measure.
import { availableParallelism, loadavg } from 'node:os';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { Barrier, runWorker } from '@bypass/atomics-sync';
import { runBenchmark, type Series } from '@bypass/bench-harness';
import { Ring } from '@bypass/ring';
import { RingBuffer } from 'ringbuf.js';
import type {
  PortConsumerData,
  PortProducerData,
  Received,
  RingbufConsumerData,
  RingbufProducerData,
  RingConsumerData,
  RingProducerData,
  Sent,
  WorkerData,
} from './workers.js';

const WORKERS = new URL('./workers.js', import.meta.url);
const quickMode = process.argv.includes('--quick');
const durationMs = (quick: boolean) => (quick ? 150 : 1000);
const warmupMs = (quick: boolean) => (quick ? 50 : 200);

/** Ring slots for every ring series (usable capacity RING_COUNT - 1); ringbuf.js gets the same. */
const RING_COUNT = 4096;
const BURSTS = [1, 8, 32, 256];
const HEADLINE_BURST = 32;
const MPMC = { producers: 2, consumers: 2, burst: 32 };
/** MessagePort flow control: messages in flight at most, and credit returned per this many. */
const PORT_WINDOW_ITEMS = 65536;
const PORT_CREDIT_EVERY_ITEMS = 4096;

/** Control words (workers.ts: ctl[0] counts finished consumers), then the start barrier. */
const CTL_BYTES = 16;
/** Control words and the start barrier, in one small SharedArrayBuffer. */
function control(parties: number) {
  const ctl = new SharedArrayBuffer(CTL_BYTES + 16);
  const start = Barrier.create(ctl, CTL_BYTES, parties);
  return { ctl, start: start.descriptor };
}

function spawn<T>(data: WorkerData, transfer?: MessagePort[]): Promise<T> {
  return runWorker<T>(WORKERS, { workerData: data, transferList: transfer });
}

/** Throughput in M obj/s from what the consumers saw, after checking the producers' counts. */
function throughput(name: string, sent: Sent[], received: Received[]): number {
  const objs = received.reduce((s, r) => s + r.objs, 0);
  const total = sent.reduce((s, p) => s + p.objs, 0);
  // Consumers count only their measured window; producers count from the start. A consumer can
  // never have seen more than was sent.
  if (objs > total) throw new Error(`${name}: consumers counted ${objs}, producers sent ${total}`);
  if (objs === 0) throw new Error(`${name}: nothing moved (producers sent ${total})`);
  const ms = Math.max(...received.map((r) => r.ms));
  return objs / ms / 1e3;
}

async function ringRun(
  name: string,
  quick: boolean,
  burst: number,
  producers: number,
  consumers: number,
): Promise<number> {
  const multi = producers > 1 || consumers > 1;
  const sab = new SharedArrayBuffer(Ring.bytesFor({ count: RING_COUNT }));
  const ring = Ring.create(sab, 0, {
    count: RING_COUNT,
    producer: producers > 1 ? 'multi' : 'single',
    consumer: consumers > 1 ? 'multi' : 'single',
    name: multi ? 'bench-mpmc' : 'bench-spsc',
  });
  const { ctl, start } = control(producers + consumers);
  const common = { ctl, start, burst, ring: ring.descriptor };
  const sent = Array.from({ length: producers }, () =>
    spawn<Sent>({ role: 'ring-producer', consumers, ...common } satisfies RingProducerData),
  );
  const received = Array.from({ length: consumers }, () =>
    spawn<Received>({
      role: 'ring-consumer',
      warmupMs: warmupMs(quick),
      durationMs: durationMs(quick),
      ...common,
    } satisfies RingConsumerData),
  );
  return throughput(name, await Promise.all(sent), await Promise.all(received));
}

async function ringbufRun(quick: boolean, burst: number): Promise<number> {
  // RING_COUNT slots holding RING_COUNT - 1 elements, as our ring (ringbuf.js adds the spare slot).
  const sab = RingBuffer.getStorageForCapacity(RING_COUNT - 1, Uint32Array);
  const { ctl, start } = control(2);
  const common = { ctl, start, burst, sab };
  const sent = spawn<Sent>({ role: 'ringbuf-producer', ...common } satisfies RingbufProducerData);
  const received = spawn<Received>({
    role: 'ringbuf-consumer',
    warmupMs: warmupMs(quick),
    durationMs: durationMs(quick),
    ...common,
  } satisfies RingbufConsumerData);
  return throughput('ringbuf.js', [await sent], [await received]);
}

async function portRun(quick: boolean, burst: number): Promise<number> {
  const { port1, port2 } = new MessageChannel();
  const { ctl, start } = control(2);
  const sent = spawn<Sent>(
    {
      role: 'port-producer',
      ctl,
      start,
      burst,
      port: port1,
      window: Math.max(1, PORT_WINDOW_ITEMS / burst),
    } satisfies PortProducerData,
    [port1],
  );
  const received = spawn<Received>(
    {
      role: 'port-consumer',
      ctl,
      start,
      burst,
      port: port2,
      creditEvery: Math.max(1, PORT_CREDIT_EVERY_ITEMS / burst),
      warmupMs: warmupMs(quick),
      durationMs: durationMs(quick),
    } satisfies PortConsumerData,
    [port2],
  );
  return throughput('postMessage', [await sent], [await received]);
}

function spsc(burst: number): Series {
  return {
    name: `spsc-b${burst}`,
    describe: `Ring SP/SC, ${RING_COUNT} slots, producer worker enqueueBurst(${burst}) -> consumer worker dequeueBurst(${burst})`,
    run: (quick) => ringRun(`spsc-b${burst}`, quick, burst, 1, 1),
  };
}

const cpus = availableParallelism();
const mpmcThreads = MPMC.producers + MPMC.consumers;

await runBenchmark({
  bench: 'ring',
  metric: 'Mobj/s',
  params: {
    bursts: BURSTS,
    headlineBurst: HEADLINE_BURST,
    ringCount: RING_COUNT,
    ringCapacity: RING_COUNT - 1,
    elemWords: 1,
    mpmc: MPMC,
    durationMs: durationMs(quickMode),
    warmupMs: warmupMs(quickMode),
    portWindowItems: PORT_WINDOW_ITEMS,
    portCreditEveryItems: PORT_CREDIT_EVERY_ITEMS,
    cpus,
    mpmcOversubscribed: mpmcThreads > cpus,
    // Busy-polling pairs collapse when a third busy thread shares the cores: note the load.
    loadavg1AtStart: Math.round(loadavg()[0] * 100) / 100,
    counted: 'objects received by the consumer(s) in the measured window / window length',
  },
  subject: spsc(HEADLINE_BURST),
  baseline: {
    name: 'postMessage-item',
    describe:
      'MessagePort: producer worker posts one u32 number per message, consumer worker polls ' +
      `receiveMessageOnPort (credit flow control, <= ${PORT_WINDOW_ITEMS} in flight)`,
    run: (quick) => portRun(quick, 1),
  },
  others: [
    ...BURSTS.filter((b) => b !== HEADLINE_BURST).map(spsc),
    {
      name: `mpmc-2x2-b${MPMC.burst}`,
      describe:
        `Ring MP/MC, ${RING_COUNT} slots, 2 producer + 2 consumer workers, bursts of ${MPMC.burst}` +
        (mpmcThreads > cpus
          ? ` (4 busy threads on ${cpus} cores: oversubscribed, preempted claimers stall the rest)`
          : ''),
      run: (quick) => ringRun('mpmc', quick, MPMC.burst, MPMC.producers, MPMC.consumers),
    },
    {
      name: `postMessage-b${HEADLINE_BURST}`,
      describe: `MessagePort: one Uint32Array of ${HEADLINE_BURST} handles per message (cloned), consumer polls receiveMessageOnPort, counted as ${HEADLINE_BURST} objects`,
      run: (quick) => portRun(quick, HEADLINE_BURST),
    },
    {
      name: `ringbuf.js-b${HEADLINE_BURST}`,
      describe: `ringbuf.js 0.4.0 RingBuffer<Uint32Array> SPSC, capacity ${RING_COUNT - 1}, push/pop(${HEADLINE_BURST}) between two workers`,
      run: (quick) => ringbufRun(quick, HEADLINE_BURST),
    },
  ],
});
