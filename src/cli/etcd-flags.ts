/** The etcd flags every etcd-using command shares (`run`, `network`, `leases`), and the client options they make. */
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
}

export function addEtcdFlags(cmd: Command): Command {
  return cmd
    .addOption(new Option('--etcd-endpoints <urls>', 'etcd client URLs, comma-separated').default(DEFAULT_ENDPOINT))
    .addOption(new Option('--etcd-prefix <path>', 'etcd key prefix (flannel\'s layout)').default(DEFAULT_PREFIX))
    .option('--etcd-cafile <file>', 'CA certificate of etcd\'s TLS (https endpoints)')
    .option('--etcd-certfile <file>', 'client certificate for etcd TLS')
    .option('--etcd-keyfile <file>', 'client key for etcd TLS')
    .option('--etcd-username <name>', 'etcd user (with --etcd-password)')
    .option('--etcd-password <password>', 'etcd password');
}

export function etcdClientOptions(f: EtcdFlags): EtcdClientOptions {
  const endpoints = f.etcdEndpoints.split(',').map((e) => e.trim()).filter((e) => e.length > 0);
  if (endpoints.length === 0) throw new ConfigError('--etcd-endpoints: no endpoint given', 'etcd-endpoints');
  if ((f.etcdUsername === undefined) !== (f.etcdPassword === undefined)) {
    throw new ConfigError('--etcd-username and --etcd-password go together', 'etcd-username');
  }
  return {
    endpoints,
    ...(f.etcdCafile !== undefined ? { cafile: f.etcdCafile } : {}),
    ...(f.etcdCertfile !== undefined ? { certfile: f.etcdCertfile } : {}),
    ...(f.etcdKeyfile !== undefined ? { keyfile: f.etcdKeyfile } : {}),
    ...(f.etcdUsername !== undefined ? { username: f.etcdUsername } : {}),
    ...(f.etcdPassword !== undefined ? { password: f.etcdPassword } : {}),
  };
}
