// echo: EAL arguments, then `--`, then echo's. On a tap port (the kernel side is bp0):
//   pnpm --filter @bypass/echo start -- -l 0-1 --vdev net_tap0,iface=bp0 -- --ip 10.0.0.2/24 --port 7
// With the load generator in echo mode over back-to-back ring ports, in one process:
//   pnpm --filter @bypass/echo start -- -l 0-2 -- --port 7 --loadgen -c 16 -d 5s --size 64
import { runApp } from '@bypass/eal';
import { parseEchoArgs, runEcho } from './echo.js';

await runApp(process.argv.slice(2), async (rest) => {
  await runEcho(parseEchoArgs(rest));
});
