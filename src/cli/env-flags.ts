/**
 * Flags from the environment, as flannel reads FLANNELD_*: every option of
 * a command may come from `VXTAP_<FLAG>` (`--etcd-endpoints` ->
 * VXTAP_ETCD_ENDPOINTS), and a flag that is flannel's from `FLANNELD_<FLAG>`
 * too, so a flannel host's environment file works unchanged. The command
 * line wins over the environment, the environment over the defaults
 * (commander's Option.env). VXTAP_ wins over FLANNELD_.
 *
 * A boolean flag is set by "true", "1" or "yes" (any case) and left unset by
 * "false", "0", "no" or "" (commander alone would take any value as set);
 * anything else is a ConfigError naming the variable.
 */
import type { Command, Option } from 'commander';
import { ConfigError } from '../errors';

/** flannel's own flags that vxtap has, with flannel's meaning (README: `vxtap run` flags). */
export const FLANNEL_FLAGS: ReadonlySet<string> = new Set([
  'etcd-endpoints', 'etcd-prefix', 'etcd-keyfile', 'etcd-certfile', 'etcd-cafile', 'etcd-username', 'etcd-password',
  'iface', 'iface-regex', 'iface-can-reach', 'public-ip', 'subnet-file', 'subnet-lease-renew-margin', 'ip-masq',
  'healthz-ip', 'healthz-port',
]);

/** 'etcd-endpoints' for --etcd-endpoints (and for --no-offload: 'no-offload'). */
function flagName(o: Option): string | null {
  return o.long === undefined ? null : o.long.replace(/^--/, '');
}

export function envName(flag: string, prefix: 'VXTAP_' | 'FLANNELD_' = 'VXTAP_'): string {
  return prefix + flag.toUpperCase().replace(/-/g, '_');
}

/**
 * Gives every option of `cmd` its VXTAP_ variable, and fills VXTAP_ from
 * FLANNELD_ in `env` where the flag is flannel's. Call before parsing.
 */
export function bindEnv(cmd: Command, env: NodeJS.ProcessEnv = process.env): void {
  for (const o of cmd.options) {
    const flag = flagName(o);
    if (flag === null) continue;
    const name = envName(flag);
    if (o.envVar === undefined) {
      o.env(name);
      // commander wires an option's variable when the option is added; this one is added later, so it
      // is wired here the same way: the value goes through the option's own parser, as a flag's would.
      const events = cmd as unknown as NodeJS.EventEmitter; // a Command is an EventEmitter; its typings leave emit out
      events.on(`optionEnv:${o.name()}`, (val: string | undefined) => events.emit(`option:${o.name()}`, val));
    }
    if (env[name] === undefined && FLANNEL_FLAGS.has(flag)) {
      const fl = env[envName(flag, 'FLANNELD_')];
      if (fl !== undefined) env[name] = fl;
    }
    const isBoolean = !o.required && !o.optional;
    const v = env[name];
    if (isBoolean && v !== undefined) {
      if (/^(true|1|yes)$/i.test(v)) continue;
      if (!/^(false|0|no|)$/i.test(v)) throw new ConfigError(`${name}: ${JSON.stringify(v)} is not a boolean (true/false)`, flag);
      // Not set: commander would take the variable's mere presence as the flag.
      delete env[name];
    }
  }
}
