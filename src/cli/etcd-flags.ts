/** The etcd flags every etcd-using command shares (`run`, `network`, `leases`), and the client options they make. */
import { readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { ConfigError } from '../errors';
import { DEFAULT_ENDPOINT, type EtcdClientOptions } from '../control/etcd/client';
import { DEFAULT_PREFIX } from '../control/etcd/network-config';

export interface EtcdFlags {
  etcdEndpoints: string;
  etcdPrefix: string;
  etcdCafile?: string;
  etcdCertfile?: string;
  etcdKeyfile?: string;
  etcdUsername?: string;
  etcdPassword?: string;
  etcdPasswordFile?: string;
}

export function addEtcdFlags(cmd: Command): Command {
  return cmd
    .addOption(new Option('--etcd-endpoints <urls>', 'etcd client URLs, comma-separated').default(DEFAULT_ENDPOINT))
    .addOption(new Option('--etcd-prefix <path>', 'etcd key prefix (flannel\'s layout)').default(DEFAULT_PREFIX))
    .option('--etcd-cafile <file>', 'CA certificate of etcd\'s TLS (https endpoints)')
    .option('--etcd-certfile <file>', 'client certificate for etcd TLS')
    .option('--etcd-keyfile <file>', 'client key for etcd TLS')
    .option('--etcd-username <name>', 'etcd user (with a password)')
    .option('--etcd-password <password>', 'etcd password (visible in ps: prefer --etcd-password-file or VXTAP_ETCD_PASSWORD)')
    .option('--etcd-password-file <file>', 'read the etcd password from this file (its first line)');
}

export function etcdClientOptions(f: EtcdFlags): EtcdClientOptions {
  const endpoints = f.etcdEndpoints.split(',').map((e) => e.trim()).filter((e) => e.length > 0);
  if (endpoints.length === 0) throw new ConfigError('--etcd-endpoints: no endpoint given', 'etcd-endpoints');
  if (f.etcdPassword !== undefined && f.etcdPasswordFile !== undefined) {
    throw new ConfigError('--etcd-password and --etcd-password-file: give one', 'etcd-password-file');
  }
  const password = f.etcdPasswordFile !== undefined ? readPasswordFile(f.etcdPasswordFile) : f.etcdPassword;
  if ((f.etcdUsername === undefined) !== (password === undefined)) {
    throw new ConfigError('--etcd-username and a password (--etcd-password, --etcd-password-file or VXTAP_ETCD_PASSWORD) go together', 'etcd-username');
  }
  return {
    endpoints,
    ...(f.etcdCafile !== undefined ? { cafile: f.etcdCafile } : {}),
    ...(f.etcdCertfile !== undefined ? { certfile: f.etcdCertfile } : {}),
    ...(f.etcdKeyfile !== undefined ? { keyfile: f.etcdKeyfile } : {}),
    ...(f.etcdUsername !== undefined ? { username: f.etcdUsername } : {}),
    ...(password !== undefined ? { password } : {}),
  };
}

/** The first line of a password file, without its line end. */
function readPasswordFile(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`--etcd-password-file ${path}: ${(err as Error).message}`, 'etcd-password-file');
  }
  const line = text.split(/\r?\n/)[0] ?? '';
  if (line === '') throw new ConfigError(`--etcd-password-file ${path}: the file is empty`, 'etcd-password-file');
  return line;
}
