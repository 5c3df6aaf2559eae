export { intervalLog, percentileText } from './histogram.js';
export { escapeHtml } from './html.js';
export {
  renderBenchmarksReport,
  renderRunReport,
  renderScalingReport,
  writeReport,
} from './render.js';
export type { RunReport, ScalingReport } from './types.js';
