/** `vxtap network init|show` and `vxtap leases`: the etcd side, as an operator sees it. */
import { createEtcdClient } from '../control/etcd/client';
import { buildConfig, describeConfig, formatConfig, type NetworkConfigInput } from '../control/etcd/network-config';
import { NetworkConfigExistsError } from '../control/etcd/errors';
import { SubnetRegistry } from '../control/etcd/registry';
import { etcdClientOptions, type EtcdFlags } from './etcd-flags';
import { formatTable } from './table';

async function withRegistry<T>(f: EtcdFlags, fn: (r: SubnetRegistry) => Promise<T>): Promise<T> {
  const client = createEtcdClient({ ...etcdClientOptions(f), dialTimeoutMs: 3000, callTimeoutMs: 5000 });
  try {
    return await fn(new SubnetRegistry(client, { prefix: f.etcdPrefix }));
  } finally {
    client.close();
  }
}

/** The config's fields as flags (NetworkConfigInput), the etcd flags, and --force. */
export interface InitFlags extends EtcdFlags, NetworkConfigInput {
  force?: boolean;
}

/** Writes `<prefix>/config`; refuses to replace an existing one without --force. */
export async function networkInit(f: InitFlags, out: NodeJS.WritableStream): Promise<void> {
  const input: NetworkConfigInput = {
    network: f.network,
    ...(f.subnetLen !== undefined ? { subnetLen: f.subnetLen } : {}),
    ...(f.subnetMin !== undefined ? { subnetMin: f.subnetMin } : {}),
    ...(f.subnetMax !== undefined ? { subnetMax: f.subnetMax } : {}),
    ...(f.vni !== undefined ? { vni: f.vni } : {}),
    port: f.port ?? 4789,
  };
  const cfg = buildConfig(input);
  await withRegistry(f, async (r) => {
    try {
      await r.putConfig(cfg, { overwrite: f.force === true });
    } catch (err) {
      if (err instanceof NetworkConfigExistsError) throw new NetworkConfigExistsError(r.configKey, 'add --force to replace it');
      throw err;
    }
    out.write(`wrote ${r.configKey}: ${formatConfig(cfg)}\n`);
  });
}

export async function networkShow(f: EtcdFlags & { json?: boolean }, out: NodeJS.WritableStream): Promise<void> {
  await withRegistry(f, async (r) => {
    const cfg = await r.getConfig();
    if (f.json) {
      out.write(formatConfig(cfg) + '\n');
      return;
    }
    out.write(`${r.configKey}\n`);
    for (const [k, v] of Object.entries(describeConfig(cfg))) out.write(`  ${k.padEnd(10)} ${v}\n`);
    for (const w of cfg.warnings) out.write(`  note: ${w}\n`);
  });
}

export async function leases(f: EtcdFlags & { json?: boolean }, out: NodeJS.WritableStream): Promise<void> {
  await withRegistry(f, async (r) => {
    const list = await r.listLeases();
    if (f.json) {
      out.write(JSON.stringify(list.map((l) => ({
        subnet: l.subnet, publicIp: l.lease?.publicIp ?? null, vtepMac: l.lease?.vtepMac ?? null, backendType: l.lease?.backendType ?? null,
        vni: l.lease?.vni ?? null, leaseId: l.leaseId, expiresInSeconds: l.ttlSeconds, key: l.key, error: l.error,
      })), null, 2) + '\n');
      return;
    }
    const rows = list.map((l) => [
      l.subnet ?? l.key,
      l.lease?.publicIp ?? '-',
      l.lease?.vtepMac ?? '-',
      l.lease?.backendType || '-',
      l.ttlSeconds === null ? (l.leaseId === '0' ? 'never' : '?') : formatDuration(l.ttlSeconds),
      l.error ?? '',
    ]);
    out.write(formatTable(['SUBNET', 'PUBLIC IP', 'VTEP MAC', 'BACKEND', 'EXPIRES IN', 'NOTE'], rows));
  });
}

function formatDuration(s: number): string {
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}
