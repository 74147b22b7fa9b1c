/**
 * Logs: pino. On a terminal they read like the reference tool's lines
 * ("Using interface with name eth0 and address 10.146.0.3"); for machines
 * (`--log-format json`, or stdout not a terminal) they are one JSON object a
 * line, with the same message plus structured fields.
 */
import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';
import { ConfigError } from '../errors';

export type LogFormat = 'auto' | 'json' | 'pretty';
export const LOG_FORMATS: readonly LogFormat[] = ['auto', 'json', 'pretty'];
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

export function parseLogFormat(v: string): LogFormat {
  if (!(LOG_FORMATS as readonly string[]).includes(v)) {
    throw new ConfigError(`--log-format: must be one of ${LOG_FORMATS.join(', ')}, got ${JSON.stringify(v)}`, 'log-format');
  }
  return v as LogFormat;
}

export function parseLogLevel(v: string): string {
  if (!(LOG_LEVELS as readonly string[]).includes(v)) {
    throw new ConfigError(`--log-level: must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(v)}`, 'log-level');
  }
  return v;
}

/** `fd` 1 (stdout) by default; 2 when stdout carries something else (the trace). */
export function makeLogger(format: LogFormat = 'auto', level = 'info', fd: 1 | 2 = 1): Logger {
  const stream = fd === 1 ? process.stdout : process.stderr;
  const json = format === 'json' || (format === 'auto' && !stream.isTTY);
  const base = { level, base: { pid: process.pid } };
  if (json) return pino(base, pino.destination({ dest: fd, sync: true }));
  // Synchronous pretty stream: no worker thread, and nothing is lost on a fast exit.
  return pino(base, pretty({ destination: fd, sync: true, colorize: stream.isTTY === true, ignore: 'pid,hostname', translateTime: 'SYS:HH:MM:ss.l', singleLine: false, hideObject: true }));
}
