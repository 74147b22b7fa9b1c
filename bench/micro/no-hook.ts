/**
 * The baseline for the goal "with tracing off, the pipeline costs within 5%
 * of a pipeline with no trace hook at all": the batch loops of
 * Pipeline.encapBatch and decapBatch without what tracing costs them, calling
 * the same frame stages on the same Pipeline object (so the stages see the
 * same object shape and the JIT's feedback is shared, not split).
 *
 * Since the trace became middleware at the switch's edge (switch/trace-edge.ts),
 * what tracing costs the loops is the record of each decision
 * (switch/decisions.ts: one typed-array store per frame, and a call per
 * batch); these loops make none. They also leave out L2 mode's choice of
 * stages (one check per frame, false in these routed scenes), so the
 * figure is an upper bound on the records' cost.
 *
 * The stages (encapFrame, decapFrame) and the counters are private to
 * Pipeline, and src/switch/pipeline.ts is not changed for a benchmark: they
 * are reached here through one cast (PipelineInside). That is the seam this
 * file lacks; making the two stages and `counters` `protected` would let a
 * bench-local subclass override the two batch methods with no cast.
 * inside() fails loudly if they are renamed, and checkSameAsPipeline() fails
 * the run if these loops ever decide otherwise than Pipeline's own.
 */
import { wordsIpv4 } from '../../src/io/endpoints';
import type { FrameBatch } from '../../src/io/port';
import { SendList } from '../../src/io/port';
import type { Counters } from '../../src/switch/counters';
import { Verdict, type Pipeline } from '../../src/switch/pipeline';
import * as vxlan from '../../src/wire/vxlan';
import { BATCH, decapMix, encapMix, host, restoreArp, type Peer } from './scene';

/** What the batch loops use of Pipeline, private members included, as they are at run time. */
interface PipelineInside {
  readonly counters: Counters;
  readonly encapOverhead: number;
  encapFrame(buf: Buffer, off: number, len: number, toNet: SendList, toTap: SendList): number;
  decapFrame(buf: Buffer, off: number, len: number, from: number, toTap: SendList): number;
}

function inside(p: Pipeline): PipelineInside {
  const s = p as unknown as PipelineInside;
  if (typeof s.encapFrame !== 'function' || typeof s.decapFrame !== 'function' || typeof s.counters !== 'object') {
    throw new Error('Pipeline has no encapFrame/decapFrame/counters: the no-hook baseline (bench/micro/no-hook.ts) must follow pipeline.ts');
  }
  return s;
}

/** Pipeline.encapBatch (routed mode) without the decision records; `this` is the Pipeline. */
function encapBatchNoHook(this: PipelineInside, b: FrameBatch, toNet: SendList, toTap: SendList): void {
  const c = this.counters;
  const buf = b.slab;
  const sf = b.superFrames;
  c.tapBatches++;
  c.tapInFrames += b.count;
  if (b.headroom < this.encapOverhead) throw new RangeError(`batch headroom ${b.headroom} < ${this.encapOverhead}`);
  for (let i = 0; i < b.count; i++) {
    const off = b.frameStart(i);
    const len = b.sizes[i]!;
    const v = this.encapFrame(buf, off, len, toNet, toTap);
    if (sf !== null && sf.isWhole(i)) {
      const segs = sf.segments(i);
      c.tapInFrames += segs - 1;
      if (v === Verdict.ENCAP) {
        toNet.wholeOf[toNet.count - 1] = i;
        c.encapFrames += segs;
        c.encapBytes += sf.cutBytes(i, len);
      } else {
        c.drop(v, segs);
      }
    } else if (v === Verdict.ENCAP) {
      c.encapFrames++;
      c.encapBytes += len;
    } else if (v === Verdict.ARP_REPLY) {
      c.arpAnswered++;
    } else {
      c.drop(v);
    }
  }
}

/** Pipeline.decapBatch (routed mode) without the decision records; `this` is the Pipeline. */
function decapBatchNoHook(this: PipelineInside, b: FrameBatch, toTap: SendList): void {
  const c = this.counters;
  const buf = b.slab;
  c.netBatches++;
  c.netInFrames += b.count;
  for (let i = 0; i < b.count; i++) {
    const off = b.frameStart(i);
    const len = b.sizes[i]!;
    const from = wordsIpv4(b.names32, i);
    const v = this.decapFrame(buf, off, len, from, toTap);
    if (v === Verdict.DECAP) {
      c.decapFrames++;
      c.decapBytes += len - vxlan.HEADER_LEN;
    } else {
      c.drop(v);
    }
  }
}

/**
 * Pipeline's batch loops with no trace hook, run with the Pipeline as `this`
 * (so every field and stage is reached as Pipeline's own loops reach it).
 */
export class NoHookLoops {
  private readonly p: PipelineInside;

  constructor(p: Pipeline) {
    this.p = inside(p);
  }

  encapBatch(b: FrameBatch, toNet: SendList, toTap: SendList): void {
    encapBatchNoHook.call(this.p, b, toNet, toTap);
  }

  decapBatch(b: FrameBatch, toTap: SendList): void {
    decapBatchNoHook.call(this.p, b, toTap);
  }
}

function sameList(a: SendList, b: SendList): boolean {
  if (a.count !== b.count) return false;
  for (let k = 0; k < a.count; k++) {
    if (a.starts[k] !== b.starts[k] || a.lens[k] !== b.lens[k] || a.eps[k] !== b.eps[k] || a.srcPorts[k] !== b.srcPorts[k]) return false;
  }
  return true;
}

/**
 * Runs the mixes through Pipeline and through NoHookLoops on twin hosts and
 * fails unless bytes, send lists and counters come out the same.
 */
export function checkSameAsPipeline(ps: readonly Peer[], writesUdpHeader: boolean): void {
  const [h1, h2] = [host(ps, writesUdpHeader), host(ps, writesUdpHeader)];
  const [m1, m2] = [encapMix(ps), encapMix(ps)];
  const lists = (): SendList[] => [new SendList(BATCH), new SendList(BATCH), new SendList(BATCH)];
  const [n1, t1, d1] = lists();
  const [n2, t2, d2] = lists();
  restoreArp(m1);
  restoreArp(m2);
  h1.pipeline.encapBatch(m1.batch, n1!, t1!);
  new NoHookLoops(h2.pipeline).encapBatch(m2.batch, n2!, t2!);
  const [b1, b2] = [decapMix(ps), decapMix(ps)];
  h1.pipeline.decapBatch(b1, d1!);
  new NoHookLoops(h2.pipeline).decapBatch(b2, d2!);
  const same = m1.batch.slab.equals(m2.batch.slab) && sameList(n1!, n2!) && sameList(t1!, t2!) && sameList(d1!, d2!) &&
    JSON.stringify(h1.counters.snapshot()) === JSON.stringify(h2.counters.snapshot());
  if (!same) throw new Error('the no-hook loops (bench/micro/no-hook.ts) no longer decide as Pipeline does: update them from pipeline.ts');
}
