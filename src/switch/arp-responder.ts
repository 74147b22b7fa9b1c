/**
 * The ARP responder: an ARP request from the TAP for an address in the table
 * is turned into its reply in place, in the same buffer, and goes back to the
 * TAP. Nothing crosses the network. This is what lets the kernel route
 * `<peer subnet> via <peer subnet>.0 onlink` with no static neighbour entries:
 * it asks, and we answer with the peer's VTEP MAC.
 *
 * A request for an address not in the table is left alone (the caller decides:
 * flood is not done in the flannel scheme, so it is a counted drop).
 */
import * as arp from '../wire/arp';
import * as ethernet from '../wire/ethernet';
import { macKey, writeIpv4, writeMacKey } from '../wire/addr';
/** What the responder answers from: ArpTable (routed mode) or L2ArpTable (L2 mode's suppression table). */
export interface ArpAnswers {
  lookup(ip: number): number | undefined;
}

/**
 * If the frame at buf[off..off+len) is an Ethernet/IPv4 ARP request whose
 * target IP is in `table`, rewrites it into the reply and returns the MAC key
 * it answered with; otherwise returns -1 and leaves the bytes as they were.
 * `l3` is the offset of the ARP packet (after any VLAN tag).
 */
export function answerArpInPlace(buf: Uint8Array, off: number, len: number, l3: number, table: ArpAnswers): number {
  const end = off + len;
  if (!arp.isEthIpv4(buf, l3, end - l3) || arp.op(buf, l3) !== arp.OP_REQUEST) return -1;
  const target = arp.targetIp(buf, l3);
  const answer = table.lookup(target);
  if (answer === undefined) return -1;

  const askerMac = macKey(buf, l3 + arp.field.SHA);
  const askerIp = arp.senderIp(buf, l3);
  // Ethernet: back to the asker, from the MAC we answer for.
  writeMacKey(buf, off + ethernet.field.DST, askerMac);
  writeMacKey(buf, off + ethernet.field.SRC, answer);
  // ARP: op reply; sender = (answer MAC, target IP); target = the asker.
  buf[l3 + arp.field.OPER] = 0;
  buf[l3 + arp.field.OPER + 1] = arp.OP_REPLY;
  writeMacKey(buf, l3 + arp.field.SHA, answer);
  writeIpv4(buf, l3 + arp.field.SPA, target);
  writeMacKey(buf, l3 + arp.field.THA, askerMac);
  writeIpv4(buf, l3 + arp.field.TPA, askerIp);
  return answer;
}
