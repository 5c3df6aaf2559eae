// l2fwd: EAL arguments, then `--`, then l2fwd's (-p PORTMASK -q N -T PERIOD --duration S).
//   pnpm --filter @bypass/l2fwd start -- -l 0-2 --vdev net_null0 --vdev net_null1 -- -T 1 --duration 5
import { runApp } from '@bypass/eal';
import { parseL2fwdArgs, runL2fwd } from './l2fwd.js';

await runApp(process.argv.slice(2), async (rest) => {
  const r = await runL2fwd(parseL2fwdArgs(rest));
  console.log(
    `\nL2FWD: ${r.mpps.toFixed(2)} Mpps forwarded on ${r.lcores} lcore(s) over ${r.seconds.toFixed(1)} s`,
  );
});
