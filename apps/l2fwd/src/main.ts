// l2fwd: EAL arguments, then `--`, then l2fwd's (-p PORTMASK -q N -T PERIOD --duration S).
//   pnpm --filter @bypass/l2fwd start -- -l 0-2 --vdev net_null0 --vdev net_null1 -- -T 1 --duration 5
import { cleanup, init } from '@bypass/eal';
import { parseL2fwdArgs, runL2fwd } from './l2fwd.js';

const argv = process.argv.slice(2);
let rest: string[] = [];
try {
  ({ rest } = await init(argv[0] === '--' ? argv.slice(1) : argv));
} catch (e) {
  console.error(`${(e as Error).name}: ${(e as Error).message}`);
  process.exit(1);
}
try {
  const r = await runL2fwd(parseL2fwdArgs(rest));
  console.log(
    `\nL2FWD: ${r.mpps.toFixed(2)} Mpps forwarded on ${r.lcores} lcore(s) over ${r.seconds.toFixed(1)} s`,
  );
} catch (e) {
  console.error(`${(e as Error).name}: ${(e as Error).message}`);
  await cleanup();
  process.exit(1);
}
await cleanup();
process.exit(0);
