// pktgen: EAL arguments, then `--`, then pktgen's. For example, two back-to-back ring ports:
//   pnpm --filter @bypass/pktgen start -- -l 0-2 --vdev net_ring0,peer=net_ring1 \
//     --vdev net_ring1,peer=net_ring0 -- --flows 64 --size 64 --rate-mpps 1 --duration 5
import { runApp } from '@bypass/eal';
import { parsePktgenArgs, runPktgen } from './pktgen.js';

await runApp(process.argv.slice(2), async (rest) => {
  await runPktgen(parsePktgenArgs(rest));
});
