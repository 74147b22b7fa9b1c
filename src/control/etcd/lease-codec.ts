/**
 * flannel's subnet lease, the value of `<prefix>/subnets/10.44.3.0-24`:
 *
 *   {"PublicIP":"192.168.90.1","PublicIPv6":null,"BackendType":"vxlan",
 *    "BackendData":{"VNI":1,"VtepMAC":"aa:bb:cc:dd:ee:ff"}}
 *
 * (flannel's lease.LeaseAttrs, with the vxlan backend's data.) The subnet is
 * in the key, not the value. Field names are matched without regard to case,
 * as Go's encoding/json does; unknown fields are ignored. A lease of another
 * backend (host-gw, wireguard, ...) decodes, with `vtepMac: null`: it is not
 * malformed, only not a VXLAN peer. A value that is not a lease is a
 * LeaseFormatError (VXTAP_ERR_LEASE_FORMAT).
 */
import { formatCidr, isIpv4, isMac, parseIpv4 } from '../../wire/addr';
import type { Peer } from '../peers';
import { LeaseFormatError } from './errors';
import { MAX_VNI, parseSubnetKey } from './network-config';

export const VXLAN_BACKEND = 'vxlan';

/** A decoded lease: whose subnet, where it is, and (for a vxlan lease) its VTEP. */
export interface SubnetLease {
  /** '10.44.3.0/24' */
  readonly subnet: string;
  readonly publicIp: string;
  /** "vxlan", "host-gw", ... ("" when the lease names none). */
  readonly backendType: string;
  /** The VTEP's MAC, lower-case; null unless backendType is vxlan. */
  readonly vtepMac: string | null;
  /** BackendData.VNI; null when absent (or not a vxlan lease). */
  readonly vni: number | null;
}

/** What this host writes about itself. */
export interface LeaseAttrs {
  readonly publicIp: string;
  readonly vtepMac: string;
  readonly vni: number;
}

/** The lease JSON exactly as flannel's vxlan backend writes it (same fields, same order). */
export function encodeLease(attrs: LeaseAttrs): string {
  if (!isIpv4(attrs.publicIp)) throw new TypeError(`encodeLease: not an IPv4 address: ${JSON.stringify(attrs.publicIp)}`);
  if (!isMac(attrs.vtepMac)) throw new TypeError(`encodeLease: not a MAC address: ${JSON.stringify(attrs.vtepMac)}`);
  if (!Number.isInteger(attrs.vni) || attrs.vni < 0 || attrs.vni > MAX_VNI) throw new TypeError(`encodeLease: bad VNI ${attrs.vni}`);
  return JSON.stringify({
    PublicIP: attrs.publicIp,
    PublicIPv6: null,
    BackendType: VXLAN_BACKEND,
    BackendData: { VNI: attrs.vni, VtepMAC: attrs.vtepMac.toLowerCase() },
  });
}

/**
 * Decodes one lease. `key` is the etcd key (or just '10.44.3.0-24'); the
 * subnet comes from it. Throws LeaseFormatError naming the key and the field.
 */
export function decodeLease(key: string, value: string | Buffer): SubnetLease {
  const subnet = parseSubnetKey(key);
  if (!subnet) throw new LeaseFormatError(key, 'not a subnet key (a.b.c.d-len)');
  const text = typeof value === 'string' ? value : value.toString('utf8');
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new LeaseFormatError(key, `not JSON: ${(err as Error).message}`);
  }
  if (!isObj(doc)) throw new LeaseFormatError(key, 'the lease must be a JSON object');

  const ip = get(doc, 'PublicIP');
  if (typeof ip !== 'string' || !isIpv4(ip)) throw new LeaseFormatError(key, `PublicIP: not an IPv4 address: ${JSON.stringify(ip)}`);
  const a = parseIpv4(ip);
  if (a === 0 || a === 0xffffffff || a >>> 28 === 0xe) throw new LeaseFormatError(key, `PublicIP: not a unicast address: ${ip}`);

  const bt = get(doc, 'BackendType');
  if (bt !== undefined && bt !== null && typeof bt !== 'string') throw new LeaseFormatError(key, `BackendType: must be a string, got ${JSON.stringify(bt)}`);
  const backendType = typeof bt === 'string' ? bt : '';
  const base = { subnet: formatCidr(subnet), publicIp: ip, backendType };
  if (backendType !== VXLAN_BACKEND) return { ...base, vtepMac: null, vni: null };

  const data = get(doc, 'BackendData');
  if (!isObj(data)) throw new LeaseFormatError(key, 'BackendData: a vxlan lease needs {"VtepMAC": ...}');
  const mac = get(data, 'VtepMAC');
  if (typeof mac !== 'string' || !isMac(mac)) throw new LeaseFormatError(key, `BackendData.VtepMAC: not a MAC address: ${JSON.stringify(mac)}`);
  const vtepMac = mac.toLowerCase();
  if (parseInt(vtepMac.slice(0, 2), 16) & 1) throw new LeaseFormatError(key, `BackendData.VtepMAC: ${vtepMac} is a multicast MAC`);
  if (vtepMac === '00:00:00:00:00:00') throw new LeaseFormatError(key, 'BackendData.VtepMAC: the all-zero MAC');
  const vniVal = get(data, 'VNI');
  let vni: number | null = null;
  if (vniVal !== undefined && vniVal !== null) {
    if (typeof vniVal !== 'number' || !Number.isInteger(vniVal) || vniVal < 0 || vniVal > MAX_VNI) {
      throw new LeaseFormatError(key, `BackendData.VNI: not a VNI: ${JSON.stringify(vniVal)}`);
    }
    vni = vniVal;
  }
  return { ...base, vtepMac, vni };
}

/** The data plane's view of a vxlan lease; null for a lease of another backend. */
export function leaseToPeer(lease: SubnetLease): Peer | null {
  if (lease.backendType !== VXLAN_BACKEND || lease.vtepMac === null) return null;
  return { subnet: lease.subnet, publicIp: lease.publicIp, vtepMac: lease.vtepMac };
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function get(o: Obj, name: string): unknown {
  if (name in o) return o[name];
  const lower = name.toLowerCase();
  for (const k of Object.keys(o)) if (k.toLowerCase() === lower) return o[k];
  return undefined;
}
