/** RTE_LOG-style logging: level 1 (emerg) to 8 (debug); messages above the EAL's level are dropped. */
import { LOG_LEVELS } from './args.js';

let level = 6; // notice, until init sets it

export function setLogLevel(l: number): void {
  level = l;
}

export function logLevel(): number {
  return level;
}

/** Logs `message` for subsystem `type` (EAL, LCORE, PMD, ...) at `l` (1-8). */
export function log(l: number, type: string, message: string): void {
  if (l > level) return;
  const line = `${type}: ${message}`;
  if (l <= 4) console.error(line);
  else console.log(line);
}

export const logName = (l: number): string => LOG_LEVELS[l - 1] ?? String(l);
