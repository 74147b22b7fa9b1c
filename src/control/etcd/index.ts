/**
 * The etcd control plane, flannel's layout over the etcd v3 API:
 * - network-config: `<prefix>/config` (parse, defaults, checks) and subnet keys;
 * - lease-codec: the lease JSON of `<prefix>/subnets/<a.b.c.d-len>`;
 * - client: an Etcd3 client from vxtap's options (TLS, auth, deadlines, keepalive);
 * - registry: the subnet manager (config, acquire, renew, list, release);
 * - lease-keeper: keeping this host's lease (renewal, taking it back);
 * - watch: a watch that survives compaction and outages (re-list + reset);
 * - peer-source: the PeerSource over the leases;
 * - subnet-file: flannel's subnet.env;
 * - vteps: the VTEPs of an L2 segment (`--mode l2`): this host's key and the others'.
 */
export * from './errors';
export * from './network-config';
export * from './lease-codec';
export * from './client';
export * from './registry';
export * from './lease-keeper';
export * from './watch';
export * from './peer-source';
export * from './subnet-file';
export * from './vteps';
export * from './vtep-registration';
export * from './vtep-source';
