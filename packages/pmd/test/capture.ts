// The real Linux capture in shared/data (see its README), as a list of frames, read with the
// pmd's libpcap reader. Undefined when shared/ is not beside the repository.
import { PcapReader } from '../src/index.js';
import { findSharedData } from './shared-data.js';

export const CAPTURE_PATH = findSharedData('linux-veth-http.pcap');

/** Every frame of the capture (copies), or [] when it is absent. */
export function captureFrames(): Uint8Array[] {
  if (CAPTURE_PATH === undefined) return [];
  const r = PcapReader.open(CAPTURE_PATH, { linktype: 1 });
  const frames: Uint8Array[] = [];
  while (r.next()) frames.push(r.buffer.slice(r.offset, r.offset + r.capLen));
  r.close();
  return frames;
}
