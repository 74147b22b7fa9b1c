/**
 * `--trace-filter`: which traced frames are shown. The CLI passes the flag's
 * text to parseTraceFilter(); the tracer asks matches() of each frame after
 * its decision is known (so `drops` sees port refusals too).
 *
 * Syntax (whitespace around separators is ignored, words are case-insensitive):
 *
 *   filter := term { "," term }        every term must match        (and)
 *   term   := alt { "|" alt }          one alternative must match   (or)
 *   alt    := [ "!" | "not " ] prim    negation
 *   prim   := host ADDR               an IPv4/IPv6 address anywhere in the
 *                                     frame: inner IP or ARP addresses, the
 *                                     outer (underlay) sender or receiver, or
 *                                     the VTEP a frame is sent to
 *           | port N                  a TCP/UDP port, inner or outer
 *           | vni N                   the VNI in the VXLAN header or used to encap
 *           | arp | icmp | tcp | udp | ipv4 | ipv6
 *                                     the protocol of the inner frame (the outer
 *                                     UDP of network frames does not count)
 *           | drops                   only dropped frames
 *           | drop REASON             dropped for this reason (a counter name: fdb-miss, ...)
 *           | from tap | from net     the direction the frame came from
 *
 * tcpdump's words work too: "and" (or "&&") for ",", "or" (or "||") for "|".
 * As with "," and "|", "or" binds tighter than "and" (`icmp or arp and
 * host 10.44.2.0` is both protocols to or from that host); tcpdump gives them
 * the same rank, left to right, which reads the same in that order.
 *
 * Examples: `host 10.44.2.0,icmp` (ICMP to or from 10.44.2.0), `arp|icmp`,
 * `drops,!drop flood`, `from net,vni 9`, `host 10.44.2.0 and not icmp`.
 */
import { ConfigError } from '../errors';
import { isIpv4 } from '../wire/addr';
import * as ipv6 from '../wire/ipv6';
import { DROP_NAMES } from './drops';

/** What a filter sees of a traced frame (built by the tracer from its record). */
export interface FilterSubject {
  dir: 'tap' | 'net';
  /** The drop's name (drops.ts), or null when the frame was not dropped. */
  drop: string | null;
  /** Every address in the frame, as text (IPv4 dotted, IPv6 RFC 5952). */
  hosts: ReadonlySet<string>;
  /** Inner protocols: 'arp', 'ipv4', 'ipv6', 'icmp', 'tcp', 'udp'. */
  protos: ReadonlySet<string>;
  /** TCP/UDP ports, inner and outer. */
  ports: ReadonlySet<number>;
  /** The VNI, or -1 when none is known. */
  vni: number;
}

export interface TraceFilter {
  /** The text it was parsed from. */
  readonly text: string;
  matches(s: FilterSubject): boolean;
}

export const FILTER_PROTOCOLS: readonly string[] = ['arp', 'icmp', 'tcp', 'udp', 'ipv4', 'ipv6'];

type Pred = (s: FilterSubject) => boolean;

const FLAG = '--trace-filter';

function bad(text: string, why: string): ConfigError {
  return new ConfigError(`${FLAG}: ${why} in ${JSON.stringify(text)} (see: host ADDR, port N, vni N, ${FILTER_PROTOCOLS.join(', ')}, drops, drop REASON, from tap|net; "," is and, "|" is or, "!" is not)`, 'trace-filter');
}

function parseNumber(text: string, word: string, arg: string | undefined, max: number): number {
  if (arg === undefined) throw bad(text, `"${word}" needs a number`);
  if (!/^\d+$/.test(arg) || Number(arg) > max) throw bad(text, `"${word} ${arg}": not a number in 0..${max}`);
  return Number(arg);
}

/** An address in the text the decoder prints (IPv6 normalised to RFC 5952). */
function parseHost(text: string, arg: string | undefined): string {
  if (arg === undefined) throw bad(text, '"host" needs an address');
  if (isIpv4(arg)) return arg;
  if (arg.includes(':')) {
    try {
      return ipv6.formatAddress(ipv6.parseAddress(arg));
    } catch {
      // fall through to the error below
    }
  }
  throw bad(text, `"host ${arg}": not an IPv4 or IPv6 address`);
}

function parsePrim(text: string, src: string): Pred {
  const words = src.split(/\s+/).filter(Boolean);
  const [w0, arg, extra] = [words[0]?.toLowerCase(), words[1], words[2]];
  if (w0 === undefined) throw bad(text, 'an empty term');
  const takesArg = ['host', 'port', 'vni', 'drop', 'from'].includes(w0);
  if (!takesArg && w0 !== 'drops' && !FILTER_PROTOCOLS.includes(w0)) throw bad(text, `unknown word ${JSON.stringify(words[0])}`);
  if ((takesArg && extra !== undefined) || (!takesArg && arg !== undefined)) {
    throw bad(text, `unexpected ${JSON.stringify(takesArg ? extra : arg)} after "${takesArg ? `${w0} ${arg}` : w0}" (separate terms with "," or "|")`);
  }
  switch (w0) {
    case 'host': {
      const h = parseHost(text, arg);
      return (s) => s.hosts.has(h);
    }
    case 'port': {
      const p = parseNumber(text, w0, arg, 0xffff);
      return (s) => s.ports.has(p);
    }
    case 'vni': {
      const v = parseNumber(text, w0, arg, 0xffffff);
      return (s) => s.vni === v;
    }
    case 'drops':
      return (s) => s.drop !== null;
    case 'drop': {
      if (arg === undefined) throw bad(text, '"drop" needs a reason (or use "drops" for all)');
      const r = arg.toLowerCase();
      if (!DROP_NAMES.includes(r)) throw bad(text, `"drop ${arg}": not a drop reason (one of ${DROP_NAMES.join(', ')})`);
      return (s) => s.drop === r;
    }
    case 'from': {
      const d = arg?.toLowerCase();
      if (d !== 'tap' && d !== 'net') throw bad(text, `"from" takes "tap" or "net", got ${JSON.stringify(arg ?? '')}`);
      return (s) => s.dir === d;
    }
    default:
      return (s) => s.protos.has(w0);
  }
}

function parseAlt(text: string, src: string): Pred {
  const t = src.trim();
  const neg = /^(!|not\s+)/i.exec(t);
  if (neg) {
    const p = parsePrim(text, t.slice(neg[0].length));
    return (s) => !p(s);
  }
  return parsePrim(text, t);
}

/**
 * Parses a filter. Throws ConfigError naming the problem (an unknown word, a
 * missing or bad argument, an empty term).
 */
export function parseTraceFilter(text: string): TraceFilter {
  if (text.trim() === '') throw bad(text, 'an empty filter');
  // tcpdump's connectives as ours: a word between spaces (never inside an address or a reason).
  const src = text.replace(/\s+(?:and|&&)\s+/gi, ',').replace(/\s+(?:or|\|\|)\s+/gi, '|');
  const terms: Pred[][] = src.split(',').map((term) => {
    if (term.trim() === '') throw bad(text, 'an empty term');
    return term.split('|').map((alt) => {
      if (alt.trim() === '') throw bad(text, 'an empty alternative');
      return parseAlt(text, alt);
    });
  });
  return {
    text,
    matches: (s) => terms.every((alts) => alts.some((p) => p(s))),
  };
}
