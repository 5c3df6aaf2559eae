// pktgen: EAL arguments, then `--`, then pktgen's. For example, two back-to-back ring ports:
//   pnpm --filter @bypass/pktgen start -- -l 0-2 --vdev net_ring0,peer=net_ring1 \
//     --vdev net_ring1,peer=net_ring0 -- --flows 64 --size 64 --rate-mpps 1 --duration 5
import { cleanup, init } from '@bypass/eal';
import { parsePktgenArgs, runPktgen } from './pktgen.js';

const argv = process.argv.slice(2);
let rest: string[] = [];
try {
  ({ rest } = await init(argv[0] === '--' ? argv.slice(1) : argv));
} catch (e) {
  console.error(`${(e as Error).name}: ${(e as Error).message}`);
  process.exit(1);
}
try {
  await runPktgen(parsePktgenArgs(rest));
} catch (e) {
  console.error(`${(e as Error).name}: ${(e as Error).message}`);
  await cleanup();
  process.exit(1);
}
await cleanup();
process.exit(0);
