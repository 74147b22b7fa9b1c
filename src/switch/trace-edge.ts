/**
 * Tracing as middleware at the switch's edge (issue #10): the trace wraps
 * the Switch's two batch handlers, and the Pipeline knows nothing of it.
 *
 *   before the batch   copy each frame as it came (an ARP answer rewrites
 *                      the frame in place, so the frame the trace shows
 *                      must be taken first);
 *   the batch          the bare handler: the pipeline decides, recording its
 *                      verdicts (decisions.ts), the ports answer per entry
 *                      (SendList.status);
 *   after the batch    each frame's record (verdict; for a flood, its
 *                      copies; for an L2 decap, what learning did) becomes a
 *                      FrameTrace, explained from the tables (trace-hook.ts
 *                      explainEncap / explainDecap), handed to the tracer,
 *                      and the batch ends with the lists as the ports
 *                      answered them (Tracer.endBatch).
 *
 * Why this cut: the pipeline's only cost for tracing is the record stores,
 * which it makes traced or not (no `tracer === null` check per frame, no
 * second path through the stages), and the Switch picks the wrapped or the
 * bare handlers once, when it starts. The explanation runs after the batch;
 * that is sound because the tables it asks do not change within a batch,
 * except by learning, whose results are in the records.
 *
 * Where each frame was queued is not recorded: it follows from the verdicts
 * in order (an encap takes one entry on the list to the network, a flood
 * `copies`, an ARP answer one on the list to the TAP, a decap one on the
 * list to the TAP), from where the batch began on each list. A super-frame
 * kept whole would break that one-frame-one-entry walk; with a tracer the
 * Switch never keeps them whole (switch.ts negotiate()).
 */
import { EP_RECORD, recordPort, wordsVtepKey } from '../io/endpoints';
import type { FrameBatch, SendList } from '../io/port';
import type { Decisions } from './decisions';
import { Verdict } from './pipeline';
import { explainDecap, explainEncap, frameTrace, type Action, type EncapPlace, type LearnFacts, type PipelineTables, type Tracer } from './trace-hook';

/** What the edge reads of the pipeline: its tables and its records. */
export interface TracedPipeline extends PipelineTables {
  readonly decisions: Decisions;
}

export class TraceEdge {
  /** The frames of the batch under way, copied before the pipeline ran. */
  private frames: Buffer[] = [];
  private readonly place: EncapPlace = { at: 0, copies: 0 };
  private readonly learn: LearnFacts = { result: -1, movedFrom: 0 };

  constructor(readonly tracer: Tracer, private readonly pipeline: TracedPipeline) {}

  /** Before the pipeline sees a batch (either direction): the frames as they came. */
  before(b: FrameBatch): void {
    const frames: Buffer[] = new Array<Buffer>(b.count);
    for (let i = 0; i < b.count; i++) {
      const off = b.frameStart(i);
      frames[i] = Buffer.from(b.slab.subarray(off, off + b.sizes[i]!));
    }
    this.frames = frames;
  }

  /** After a batch from the TAP went to the ports: explains every frame, then ends the batch. */
  afterTap(b: FrameBatch, toNet: SendList, toTap: SendList): void {
    const p = this.pipeline;
    const d = p.decisions;
    const q = this.place;
    let net = d.netStart;
    let tap = d.tapStart;
    for (let i = 0; i < d.count; i++) {
      const v = d.verdict[i]!;
      const ev = frameTrace('tap', this.frames[i]!, 0, 0, actionOf(v), v >= 0 ? v : -1);
      q.copies = v === Verdict.FLOOD ? d.copies[i]! : v === Verdict.ENCAP ? 1 : 0;
      q.at = v === Verdict.ARP_REPLY || v === Verdict.ARP_SUPPRESSED || v === Verdict.ND_REPLY ? tap++ : net;
      net += q.copies;
      this.tracer.frame(explainEncap(p, ev, b.slab, b.frameStart(i), toNet, q));
    }
    this.frames = [];
    this.tracer.endBatch(toNet.count > 0 ? toNet : null, toTap.count > 0 ? toTap : null);
  }

  /** After a batch from the network went to the TAP: explains every datagram, then ends the batch. */
  afterNet(b: FrameBatch, toTap: SendList): void {
    const p = this.pipeline;
    const d = p.decisions;
    const learn = this.learn;
    const l2 = p.l2 !== null;
    let tap = d.tapStart;
    for (let i = 0; i < d.count; i++) {
      const v = d.verdict[i]!;
      const ev = frameTrace('net', this.frames[i]!, wordsVtepKey(b.names32, i), recordPort(b.names, i * EP_RECORD), actionOf(v), v >= 0 ? v : -1);
      learn.result = l2 ? d.learn[i]! : -1;
      learn.movedFrom = d.movedFrom[i]!;
      this.tracer.frame(explainDecap(p, ev, v === Verdict.DECAP ? tap++ : -1, learn));
    }
    this.frames = [];
    this.tracer.endBatch(null, toTap.count > 0 ? toTap : null);
  }
}

/** A verdict as the trace's action. */
export function actionOf(v: number): Action {
  return v === Verdict.ENCAP || v === Verdict.FLOOD ? 'encap'
    : v === Verdict.ARP_REPLY || v === Verdict.ARP_SUPPRESSED || v === Verdict.ND_REPLY ? 'arp-reply'
    : v === Verdict.DECAP ? 'decap' : 'drop';
}
