/**
 * Suite 3, the ARP responder: `answerArpInPlace` on one frame (one op = one
 * frame), against an ARP table of 200 peers (flannel: one entry per host).
 *
 *   answer in place  a request for a peer's address, rewritten into its reply;
 *   miss             a request for an address not in the table (left alone);
 *   not a request    a reply, which the responder lets pass at the op check.
 *
 * The answer rewrites the frame, so the next op would see a reply. Copying
 * the request back would cost as much as the answer; instead the reply's op
 * is set back to "request" (one byte). That is a request again, from the
 * peer we answered for, for the asker's address; with the asker's address in
 * the table too, ops alternate between two requests that both hit, and each
 * op does the whole answer.
 *
 * No tracing here: the trace hook lives in the pipeline (suites encap, decap).
 */
import { add } from 'benny';
import { macKeyFromString, parseIpv4 } from '../../src/wire/addr';
import * as arp from '../../src/wire/arp';
import * as ethernet from '../../src/wire/ethernet';
import { answerArpInPlace } from '../../src/switch/arp-responder';
import { main, runSuite, sink, type Case } from './common';
import { arpRequestFrame } from './frames';
import { LOCAL, host, peers } from './scene';

export const SUITE = 'arp';
const PEERS = 200;

export function cases(): Case[] {
  const ps = peers(PEERS);
  const { arp: table } = host(ps, true);
  const L3 = ethernet.HEADER_LEN;
  const OP_LOW = L3 + arp.field.OPER + 1;

  const ask = arpRequestFrame(LOCAL.mac, LOCAL.gw, ps[PEERS / 2]!.gw);
  table.set(parseIpv4(LOCAL.gw), macKeyFromString(LOCAL.mac));
  const answer = (): void => {
    ask[OP_LOW] = arp.OP_REQUEST;
    const mac = answerArpInPlace(ask, 0, ask.length, L3, table);
    if (mac < 0) throw new Error('ARP answer case met a miss');
    sink.n += mac;
  };

  const unknown = arpRequestFrame(LOCAL.mac, LOCAL.gw, '10.44.252.0');
  const miss = (): void => {
    const mac = answerArpInPlace(unknown, 0, unknown.length, L3, table);
    if (mac >= 0) throw new Error('ARP miss case was answered');
    sink.n += mac;
  };

  const reply = arpRequestFrame(LOCAL.mac, LOCAL.gw, ps[0]!.gw);
  reply[OP_LOW] = arp.OP_REPLY;
  const notRequest = (): void => { sink.n += answerArpInPlace(reply, 0, reply.length, L3, table); };

  return [
    add('answer in place (hit, 200-entry table)', answer),
    add('miss: target not in the table', miss),
    add('not a request: a reply passes', notRequest),
  ];
}

export function run(): Promise<unknown> {
  return runSuite(SUITE, 'arp: answerArpInPlace, one frame per op', 'fast', cases());
}

if (require.main === module) main(run);
