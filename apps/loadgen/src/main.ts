// loadgen: EAL arguments, then `--`, then loadgen's (wrk-like). Over a tap port, against a
// server in the kernel's network:
//   pnpm --filter @bypass/loadgen start -- -l 0-1 --vdev net_tap0,iface=bp1 -- \
//     --ip 10.0.0.1/24 -c 64 -d 5s http://10.0.0.2:8080/
import { runApp } from '@bypass/eal';
import { runLoadgen } from './loadgen.js';
import { parseLoadgenArgs } from './options.js';

await runApp(process.argv.slice(2), async (rest) => {
  await runLoadgen(parseLoadgenArgs(rest));
});
