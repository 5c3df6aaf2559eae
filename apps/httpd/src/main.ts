// httpd: EAL arguments, then `--`, then httpd's. On a tap port (the kernel side is bp0):
//   pnpm --filter @bypass/httpd start -- -l 0-1 --vdev net_tap0,iface=bp0 -- --ip 10.0.0.2/24 --port 8080 --size 64
// With the load generator on back-to-back ring ports, in one process:
//   pnpm --filter @bypass/httpd start -- -l 0-2 -- --port 8080 --size 64 --loadgen -c 64 -d 5s
import { runApp } from '@bypass/eal';
import { parseHttpdArgs, runHttpd } from './httpd.js';

await runApp(process.argv.slice(2), async (rest) => {
  await runHttpd(parseHttpdArgs(rest));
});
