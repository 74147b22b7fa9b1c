/**
 * The VTEPs of an L2 segment in etcd (`--mode l2`, issue #10):
 *
 *   <prefix>/l2/<vni>/vteps/<public-ip>   {"PublicIP":"192.168.90.2","Port":4789,"VtepMAC":"02:…"}
 *
 * one key per host, on an etcd lease with a short TTL (DEFAULT_VTEP_TTL_SECONDS)
 * that the host keeps alive. A clean stop deletes the key at once; a host
 * that dies leaves when its lease runs out. Every host watches the prefix and
 * floods to the others.
 *
 * - VtepRegistration (vtep-registration.ts) keeps this host's key: grant, put, keep-alive every
 *   third of the TTL; when the key is gone (lease expired during an outage,
 *   operator's delete, another value written over it) it is put back; while
 *   etcd is away it retries with a short backoff, so the key is back within
 *   a second or two of etcd's return.
 * - EtcdVtepSource (vtep-source.ts): snapshot + batches (diffVteps), re-listed after an
 *   outage or a compaction (watch.ts), so consumers only ever see deltas and
 *   the last known list stays while etcd is away. Not VTEPs, never emitted:
 *   this host's own key, and malformed values (bad JSON, key/PublicIP
 *   mismatch, bad IP, port or MAC), reported once per version of the key.
 *
 * This file: the layout, the TTL, and the value's codec.
 *
 * Why the values look like flannel's (PublicIP, VtepMAC): an operator who
 * knows `etcdctl get --prefix /coreos.com/network/subnets` reads these too.
 */
import type { Vtep } from '../l2-network';
import { unicastIpProblem, unicastMacProblem } from '../static-l2';
import { VtepFormatError } from './errors';

/**
 * The registration's TTL: 10 s, renewed every ~3.3 s. A host that dies
 * leaves the flood lists ~10.5 s later (etcd checks expiries every 500 ms); one
 * that stops cleanly leaves at once. Why not shorter: a host whose link to
 * etcd drops for longer than the TTL is dropped from the others' flood lists
 * (and its learned MACs with it) although the data path to it may be fine;
 * 10 s rides out an etcd leader election or a restart. etcd grants at
 * least 2 s (1.5 election timeouts, rounded up; a request for 1 s gets 2 s),
 * so a TTL of 4 s gives "a dead host leaves within 5 s" (~4.5 s measured)
 * for those who prefer it.
 */
export const DEFAULT_VTEP_TTL_SECONDS = 10;

/** `<prefix>/l2/<vni>/vteps/` */
export function vtepsPrefix(prefix: string, vni: number): string {
  return `${prefix.replace(/\/+$/, '')}/l2/${vni}/vteps/`;
}

export interface VtepRecord {
  readonly publicIp: string;
  readonly port: number;
  readonly vtepMac: string | null;
  readonly macs?: readonly string[];
}

/** The value of a host's key. */
export function encodeVtep(v: VtepRecord): string {
  const doc: Record<string, unknown> = { PublicIP: v.publicIp, Port: v.port, VtepMAC: v.vtepMac };
  if (v.macs && v.macs.length > 0) doc.MACs = v.macs;
  return JSON.stringify(doc);
}

/**
 * A key's value as a Vtep. Throws VtepFormatError: not a JSON object, the key
 * does not end in the value's PublicIP, PublicIP not a unicast IPv4, Port not
 * in 1..65535, VtepMAC (optional, may be null) or an entry of MACs (optional)
 * not a unicast MAC. Unknown fields are ignored, as flannel ignores them.
 */
export function decodeVtep(key: string, value: string): Vtep {
  const fail = (msg: string): never => { throw new VtepFormatError(key, msg); };
  let doc: unknown;
  try {
    doc = JSON.parse(value);
  } catch (err) {
    return fail(`not JSON: ${(err as Error).message}`);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) return fail('not a JSON object');
  const o = doc as Record<string, unknown>;
  const ip = o.PublicIP;
  if (typeof ip !== 'string') return fail(`PublicIP: missing or not a string: ${JSON.stringify(ip)}`);
  const ipProblem = unicastIpProblem(ip);
  if (ipProblem) fail(`PublicIP: ${JSON.stringify(ip)} is ${ipProblem}`);
  const last = key.slice(key.lastIndexOf('/') + 1);
  if (last !== ip) fail(`PublicIP ${ip} does not match the key (a host registers under its own address)`);
  const port = o.Port;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) fail(`Port: not in 1..65535: ${JSON.stringify(port)}`);
  let vtepMac: string | null = null;
  if (o.VtepMAC !== undefined && o.VtepMAC !== null) {
    if (typeof o.VtepMAC !== 'string') return fail(`VtepMAC: not a MAC address: ${JSON.stringify(o.VtepMAC)}`);
    const why = unicastMacProblem(o.VtepMAC);
    if (why) fail(`VtepMAC: ${JSON.stringify(o.VtepMAC)} is ${why}`);
    vtepMac = o.VtepMAC.toLowerCase();
  }
  const macs: string[] = [];
  if (o.MACs !== undefined && o.MACs !== null) {
    if (!Array.isArray(o.MACs)) return fail(`MACs: not an array: ${JSON.stringify(o.MACs)}`);
    for (const m of o.MACs as unknown[]) {
      const why = typeof m === 'string' ? unicastMacProblem(m) : 'not a string';
      if (why) fail(`MACs: ${JSON.stringify(m)} is ${why}`);
      const mac = (m as string).toLowerCase();
      if (!macs.includes(mac)) macs.push(mac);
    }
  }
  return { publicIp: ip, port: port as number, vtepMac, macs };
}
