/**
 * Flag value parsers for commander, shared by every command: a bad value
 * becomes commander's InvalidArgumentError, which names the flag and exits 2.
 */
import { InvalidArgumentError } from 'commander';

/** An integer flag in [min, max]. */
export function intIn(name: string, min: number, max: number): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!/^\d+$/.test(v) || n < min || n > max) throw new InvalidArgumentError(`${name} must be an integer in ${min}..${max}, got ${JSON.stringify(v)}`);
    return n;
  };
}

/** Runs a ConfigError-throwing parser as a commander argument parser (commander names the flag, so a leading "--flag: " is dropped). */
export function wrapParse<T>(f: (v: string) => T): (v: string) => T {
  return (v) => {
    try {
      return f(v);
    } catch (err) {
      throw new InvalidArgumentError((err as Error).message.replace(/^--[a-z-]+: /, ''));
    }
  };
}
