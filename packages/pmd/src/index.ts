/**
 * @bypass/pmd: poll-mode drivers. The ethdev API (ethdev.ts) over drivers registered by name:
 * net_null, net_ring, net_pcap, net_fault, net_tap; RSS flow hashing and a software dispatcher
 * (rss/, dispatcher.ts); the libpcap file format (pcap/).
 */
import { registerDriver } from './driver.js';
import { faultDriver } from './drivers/fault.js';
import { nullDriver } from './drivers/null.js';
import { pcapDriver } from './drivers/pcap.js';
import { ringDriver } from './drivers/ring.js';
import { tapDriver } from './drivers/tap.js';

export { tapOffload } from './drivers/tap.js';

registerDriver('net_null', nullDriver);
registerDriver('net_ring', ringDriver);
registerDriver('net_pcap', pcapDriver);
registerDriver('net_fault', faultDriver);
registerDriver('net_tap', tapDriver);

export { MbufOlFlag } from '@bypass/mempool';
export { type DispatcherOptions, RssDispatcher } from './dispatcher.js';
export {
  type DriverFactory,
  driverNames,
  type EthDriver,
  type PortContext,
  registerDriver,
} from './driver.js';
export {
  ethFaultStats,
  ethFaultStatsReset,
  FAULT_STAT_NAMES,
  type FaultOptions,
  FaultStat,
  faultDriver,
  type GilbertElliott,
  parseFaultArgs,
} from './drivers/fault.js';
export { udpTemplate } from './drivers/null.js';
export { FaultDir, laneRng, Xoshiro128 } from './drivers/prng.js';
export { EthDevError } from './errors.js';
export {
  type EthConf,
  type EthDevInfo,
  type EthStats,
  ethDevByName,
  ethDevConfigure,
  ethDevCount,
  ethDevCreate,
  ethDevInfo,
  ethDevProbe,
  ethDevStart,
  ethDevStop,
  ethLinkGet,
  ethMacAddr,
  ethPromiscuousDisable,
  ethPromiscuousEnable,
  ethPromiscuousGet,
  ethRssRetaQuery,
  ethRssRetaUpdate,
  ethRxQueueSetup,
  ethStats,
  ethStatsReset,
  ethTxQueueSetup,
  ethXstats,
  rxBurst,
  txBurst,
} from './ethdev.js';
export * from './pcap/index.js';
export { MAX_PORTS, MAX_QUEUES, RETA_MAX } from './port-table.js';
export * from './rss/index.js';
