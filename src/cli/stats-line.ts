/**
 * The stats log line's message (SIGUSR1, and at stop): the counters in one
 * readable sentence, because the pretty log (a terminal) hides the object
 * and a bare "stats" says nothing. The JSON log carries the whole object too.
 */
import type { CountersSnapshot } from '../switch/counters';

export function statsMessage(c: CountersSnapshot): string {
  const parts = [
    `TAP in ${c.tapInFrames} (encap ${c.encapFrames}, ARP answered ${c.arpAnswered}, dropped ${c.tapDrops})`,
    `UDP in ${c.netInFrames} (decap ${c.decapFrames}, dropped ${c.netDrops})`,
  ];
  const l2 = c.l2;
  if (l2.learned + l2.floodedFrames + l2.arpSuppressed + l2.fdbRefused > 0) {
    parts.push(`L2: learned ${l2.learned}, moved ${l2.moved}, aged ${l2.aged}, refused ${l2.fdbRefused}, flooded ${l2.floodedFrames} as ${l2.floodCopies} copies, ARP suppressed ${l2.arpSuppressed}`);
  }
  const drops = Object.entries(c.drops).filter(([, n]) => n > 0).map(([name, n]) => `${name} ${n}`);
  if (drops.length > 0) parts.push(`drops: ${drops.join(', ')}`);
  return `stats: ${parts.join('; ')}`;
}
