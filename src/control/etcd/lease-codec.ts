/**
 * flannel's subnet lease, the value of `<prefix>/subnets/10.44.3.0-24`:
 *
 *   {"PublicIP":"192.168.90.1","PublicIPv6":null,"BackendType":"vxlan",
 *    "BackendData":{"VNI":1,"VtepMAC":"aa:bb:cc:dd:ee:ff"}}
 *
 * (flannel's lease.LeaseAttrs, with the vxlan backend's data.) The subnet is
 * in the key, not the value.
 *
 * Dual-stack (docs/ipv6-control.md): the key is '10.5.52.0-24&fc00:0:0:34::-64'
 * and the value adds "PublicIPv6":"fd00::1" and "BackendV6Data":{"VNI":1,
 * "VtepMAC":"..."} (the VTEP of flannel's second device, flannel-v6.<VNI>).
 * An IPv6-only key is '0.0.0.0-0&fc00:0:0:34::-64', its PublicIP "0.0.0.0"
 * and its BackendData absent. The record carries the IPv6 half as
 * `subnet6`, `publicIpv6`, `backendV6` (each absent when the lease has none);
 * the IPv6 parts are decoded as strictly as the IPv4 ones: a value flannel
 * itself could not read (PublicIPv6 not an address) is malformed, whole. A
 * well-formed IPv6 half that breaks a rule is lease-rules.ts's business. Field names are matched without regard to case,
 * as Go's encoding/json does; unknown fields are ignored. A lease of another
 * backend (host-gw, wireguard, ...) decodes, with `vtepMac: null`: it is not
 * malformed, only not a VXLAN peer. A value that is not a lease is a
 * LeaseFormatError (VXTAP_ERR_LEASE_FORMAT).
 */
import { formatCidr, isIpv4, isMac, parseIpv4 } from '../../wire/addr';
import { formatCidr6, formatIpv6, isIpv6, parseIpv6 } from '../ip6';
import type { Peer } from '../peers';
import { LeaseFormatError } from './errors';
import { MAX_VNI, parseLeaseKey } from './network-config';

export const VXLAN_BACKEND = 'vxlan';

/** A decoded lease: whose subnet, where it is, and (for a vxlan lease) its VTEP. */
export interface SubnetLease {
  /** '10.44.3.0/24'; null for an IPv6-only lease. */
  readonly subnet: string | null;
  /** Null for an IPv6-only lease (flannel writes "0.0.0.0"). */
  readonly publicIp: string | null;
  /** "vxlan", "host-gw", ... ("" when the lease names none). */
  readonly backendType: string;
  /** The VTEP's MAC, lower-case; null unless backendType is vxlan. */
  readonly vtepMac: string | null;
  /** BackendData.VNI; null when absent (or not a vxlan lease). */
  readonly vni: number | null;
  /** The IPv6 half, 'fc00:0:0:34::/64': present when the key has one. */
  readonly subnet6?: string;
  /** PublicIPv6, in RFC 5952 text: present when the value names one. */
  readonly publicIpv6?: string;
  /** BackendV6Data of a vxlan lease: present when the value has it. */
  readonly backendV6?: { readonly vtepMac: string; readonly vni: number | null };
}

/** What this host writes about itself. */
export interface LeaseAttrs {
  readonly publicIp: string;
  readonly vtepMac: string;
  readonly vni: number;
  /** Dual-stack: this host's IPv6 underlay address; BackendV6Data then names `vtepMac6` (default: vtepMac, one TAP for both). */
  readonly publicIpv6?: string;
  readonly vtepMac6?: string;
}

/** The lease JSON exactly as flannel's vxlan backend writes it (same fields, same order). */
export function encodeLease(attrs: LeaseAttrs): string {
  if (!isIpv4(attrs.publicIp)) throw new TypeError(`encodeLease: not an IPv4 address: ${JSON.stringify(attrs.publicIp)}`);
  if (!isMac(attrs.vtepMac)) throw new TypeError(`encodeLease: not a MAC address: ${JSON.stringify(attrs.vtepMac)}`);
  if (!Number.isInteger(attrs.vni) || attrs.vni < 0 || attrs.vni > MAX_VNI) throw new TypeError(`encodeLease: bad VNI ${attrs.vni}`);
  if (attrs.publicIpv6 === undefined) {
    return JSON.stringify({
      PublicIP: attrs.publicIp,
      PublicIPv6: null,
      BackendType: VXLAN_BACKEND,
      BackendData: { VNI: attrs.vni, VtepMAC: attrs.vtepMac.toLowerCase() },
    });
  }
  if (!isIpv6(attrs.publicIpv6)) throw new TypeError(`encodeLease: not an IPv6 address: ${JSON.stringify(attrs.publicIpv6)}`);
  const mac6 = attrs.vtepMac6 ?? attrs.vtepMac;
  if (!isMac(mac6)) throw new TypeError(`encodeLease: not a MAC address: ${JSON.stringify(mac6)}`);
  // Go's field order (lease.LeaseAttrs): PublicIP, PublicIPv6, BackendType, BackendData, BackendV6Data.
  return JSON.stringify({
    PublicIP: attrs.publicIp,
    PublicIPv6: formatIpv6(parseIpv6(attrs.publicIpv6)),
    BackendType: VXLAN_BACKEND,
    BackendData: { VNI: attrs.vni, VtepMAC: attrs.vtepMac.toLowerCase() },
    BackendV6Data: { VNI: attrs.vni, VtepMAC: mac6.toLowerCase() },
  });
}

/**
 * Decodes one lease. `key` is the etcd key (or just '10.44.3.0-24'); the
 * subnet comes from it. Throws LeaseFormatError naming the key and the field.
 */
export function decodeLease(key: string, value: string | Buffer): SubnetLease {
  const parts = parseLeaseKey(key);
  if (!parts) throw new LeaseFormatError(key, 'not a subnet key (a.b.c.d-len, a.b.c.d-len&v6addr-len or 0.0.0.0-0&v6addr-len)');
  const text = typeof value === 'string' ? value : value.toString('utf8');
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new LeaseFormatError(key, `not JSON: ${(err as Error).message}`);
  }
  if (!isObj(doc)) throw new LeaseFormatError(key, 'the lease must be a JSON object');

  const has4 = parts.subnet !== null;
  const ip = get(doc, 'PublicIP');
  let publicIp: string | null = null;
  if (has4 || (ip !== undefined && ip !== null && ip !== '0.0.0.0')) {
    // An IPv6-only lease may leave PublicIP out, or write flannel's zero "0.0.0.0"; anything else must be an address.
    if (typeof ip !== 'string' || !isIpv4(ip)) throw new LeaseFormatError(key, `PublicIP: not an IPv4 address: ${JSON.stringify(ip)}`);
    const a = parseIpv4(ip);
    if (a === 0 || a === 0xffffffff || a >>> 28 === 0xe) throw new LeaseFormatError(key, `PublicIP: not a unicast address: ${ip}`);
    publicIp = ip;
  }

  const ip6 = get(doc, 'PublicIPv6');
  let publicIpv6: string | undefined;
  if (ip6 !== undefined && ip6 !== null) {
    // Go's json refuses such a value for the whole lease, so flannel ignores the whole lease: so does vxtap.
    if (typeof ip6 !== 'string' || !isIpv6(ip6)) throw new LeaseFormatError(key, `PublicIPv6: not an IPv6 address: ${JSON.stringify(ip6)}`);
    publicIpv6 = formatIpv6(parseIpv6(ip6));
  }
  if (!has4 && publicIpv6 === undefined) throw new LeaseFormatError(key, 'PublicIPv6: an IPv6-only lease needs one');

  const bt = get(doc, 'BackendType');
  if (bt !== undefined && bt !== null && typeof bt !== 'string') throw new LeaseFormatError(key, `BackendType: must be a string, got ${JSON.stringify(bt)}`);
  const backendType = typeof bt === 'string' ? bt : '';
  const v6: { subnet6?: string; publicIpv6?: string } = {};
  if (parts.subnet6 !== null) v6.subnet6 = formatCidr6(parts.subnet6);
  if (publicIpv6 !== undefined) v6.publicIpv6 = publicIpv6;
  const base = { subnet: parts.subnet === null ? null : formatCidr(parts.subnet), publicIp, backendType };
  if (backendType !== VXLAN_BACKEND) return { ...base, vtepMac: null, vni: null, ...v6 };

  let vtepMac: string | null = null;
  let vni: number | null = null;
  if (has4) ({ vtepMac, vni } = backendData(key, get(doc, 'BackendData'), 'BackendData'));
  const data6 = get(doc, 'BackendV6Data');
  if (data6 === undefined || data6 === null) {
    if (!has4) throw new LeaseFormatError(key, 'BackendV6Data: an IPv6-only vxlan lease needs {"VtepMAC": ...}');
    return { ...base, vtepMac, vni, ...v6 };
  }
  const b6 = backendData(key, data6, 'BackendV6Data');
  return { ...base, vtepMac, vni, ...v6, backendV6: { vtepMac: b6.vtepMac, vni: b6.vni } };
}

/** A vxlan BackendData (or BackendV6Data): {"VNI": n, "VtepMAC": "aa:..."}. */
function backendData(key: string, data: unknown, field: string): { vtepMac: string; vni: number | null } {
  if (!isObj(data)) throw new LeaseFormatError(key, `${field}: a vxlan lease needs {"VtepMAC": ...}`);
  const mac = get(data, 'VtepMAC');
  if (typeof mac !== 'string' || !isMac(mac)) throw new LeaseFormatError(key, `${field}.VtepMAC: not a MAC address: ${JSON.stringify(mac)}`);
  const vtepMac = mac.toLowerCase();
  if (parseInt(vtepMac.slice(0, 2), 16) & 1) throw new LeaseFormatError(key, `${field}.VtepMAC: ${vtepMac} is a multicast MAC`);
  if (vtepMac === '00:00:00:00:00:00') throw new LeaseFormatError(key, `${field}.VtepMAC: the all-zero MAC`);
  const vniVal = get(data, 'VNI');
  let vni: number | null = null;
  if (vniVal !== undefined && vniVal !== null) {
    if (typeof vniVal !== 'number' || !Number.isInteger(vniVal) || vniVal < 0 || vniVal > MAX_VNI) {
      throw new LeaseFormatError(key, `${field}.VNI: not a VNI: ${JSON.stringify(vniVal)}`);
    }
    vni = vniVal;
  }
  return { vtepMac, vni };
}

/** The data plane's view of a vxlan lease; null for a lease of another backend. */
/**
 * The data plane's view of a vxlan lease; null for a lease of another
 * backend, and for an IPv6-only lease (the data plane carries IPv4 only for
 * now). A dual-stack lease's IPv6 half rides along (subnet6, publicIpv6,
 * vtepMac6) when the key and the value both have it; the guard
 * (lease-guard.ts) judges it, the installer does not use it yet.
 */
export function leaseToPeer(lease: SubnetLease): Peer | null {
  if (lease.backendType !== VXLAN_BACKEND || lease.vtepMac === null || lease.subnet === null || lease.publicIp === null) return null;
  const peer: Peer = { subnet: lease.subnet, publicIp: lease.publicIp, vtepMac: lease.vtepMac };
  if (lease.subnet6 === undefined) return peer;
  return {
    ...peer,
    subnet6: lease.subnet6,
    ...(lease.publicIpv6 !== undefined ? { publicIpv6: lease.publicIpv6 } : {}),
    ...(lease.backendV6 !== undefined ? { vtepMac6: lease.backendV6.vtepMac } : {}),
  };
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
