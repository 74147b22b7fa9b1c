/**
 * Errors of the etcd control plane, each with its stable `code` (see
 * src/errors.ts). A network config that cannot be used is a ConfigError
 * (VXTAP_ERR_CONFIG) naming the field, as for every other config.
 */
import { VxtapError } from '../../errors';

/** etcd did not answer (down, unreachable, timed out, refused the credentials). */
export class EtcdUnavailableError extends VxtapError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('VXTAP_ERR_ETCD_UNAVAILABLE', message, options);
  }
}

/** There is no `<prefix>/config`: the network was never created (`vxtap network init`). */
export class NoNetworkConfigError extends VxtapError {
  constructor(readonly key: string) {
    super('VXTAP_ERR_NO_NETWORK_CONFIG', `no network config at ${key} in etcd (create it with \`vxtap network init\`, or etcdctl put ${key} '{"Network":...}')`);
  }
}

/** `putConfig` without overwrite found a config already there. */
export class NetworkConfigExistsError extends VxtapError {
  /** `how`: how the caller replaces it (the CLI: 'add --force to replace it'). */
  constructor(readonly key: string, how = 'pass overwrite to replace it') {
    super('VXTAP_ERR_NETWORK_CONFIG_EXISTS', `a network config already exists at ${key} (${how})`);
  }
}

/** Every subnet between SubnetMin and SubnetMax is leased. */
export class NetworkFullError extends VxtapError {
  constructor(readonly network: string, readonly leased: number) {
    super('VXTAP_ERR_NETWORK_FULL', `no free subnet left in ${network}: all ${leased} subnets between SubnetMin and SubnetMax are leased`);
  }
}

/** A lease value under `<prefix>/subnets/` that is not flannel's lease JSON. */
export class LeaseFormatError extends VxtapError {
  constructor(readonly key: string, message: string) {
    super('VXTAP_ERR_LEASE_FORMAT', `${key}: ${message}`);
  }
}

/** etcd no longer has this host's etcd lease (expired, or revoked): acquire again. */
export class LeaseGoneError extends VxtapError {
  constructor(readonly subnet: string, readonly leaseId: string) {
    super('VXTAP_ERR_LEASE_GONE', `the etcd lease ${leaseId} of ${subnet} is gone (expired or revoked)`);
  }
}

/** A value under `<prefix>/l2/<vni>/vteps/` that is not a VTEP registration (etcd-l2.ts). */
export class VtepFormatError extends VxtapError {
  constructor(readonly key: string, message: string) {
    super('VXTAP_ERR_VTEP_FORMAT', `${key}: ${message}`);
  }
}
