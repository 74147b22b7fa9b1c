/**
 * One made-up frame through the data plane's own pipeline code, with no
 * side effects (`vxtap explain`, issue #12): a DryPipeline, the Pipeline
 * with its two writes to shared tables overridden (L2 learning asks
 * Fdb.wouldObserve instead of observe; ARP snooping does nothing), over the
 * live tables (FDB, ARP, flood list, peer rows: shared, only read), with
 * its own Counters, batch and send lists. The live pipeline's code has no
 * check for it. Nothing is sent
 * (no port is involved), no counter of the switch moves, no trace is written.
 *
 * The explanation is the trace's: the pipeline's verdict (decisions.ts),
 * the lookups behind it from the tables (trace-hook.ts explainEncap /
 * explainDecap), and the record the trace would print (trace-record.ts).
 * A reader of `vxtap explain` and of `--trace` sees the same words.
 */
import { writeIpv4Record } from '../io/endpoints';
import { FrameBatch, SendList } from '../io/port';
import * as vxlan from '../wire/vxlan';
import { Counters } from './counters';
import { Pipeline, Verdict } from './pipeline';
import type { L2ArpTable } from './l2-arp';
import { actionOf } from './trace-edge';
import { explainDecap, explainEncap, frameTrace, type FrameTrace } from './trace-hook';
import { FrameRecorder, type RecordContext, type TraceRecord } from './trace-record';
import { SLOT_HEADROOM } from './switch';

/** The largest frame a dry run takes (a jumbo frame and its VXLAN header): the control API refuses longer ones (api/explain.ts). */
export const MAX_FRAME = 9216 + vxlan.HEADER_LEN;

/** The Pipeline, but learning asks and ARP snooping is skipped: every stage, and no table changes. */
export class DryPipeline extends Pipeline {
  /** What wouldObserve said a move would take the MAC from (the live Fdb.movedFrom is left alone). */
  private wouldMoveFrom = -1;

  protected override learn(src: number, from: number, port: number): number {
    const w = this.fdb.wouldObserve(src, from, port);
    this.wouldMoveFrom = w.movedFrom;
    return w.result;
  }

  protected override movedFrom(): number {
    return this.wouldMoveFrom;
  }

  protected override snoopArp(_table: L2ArpTable, _buf: Buffer, _inner: number, _innerLen: number): void {
    // The suppression table is the live one: a dry run leaves it as it is.
  }
}

export interface DryRunResult {
  /** The pipeline's verdict: a DropReason index (>= 0) or a Verdict. */
  verdict: number;
  /** The frame as the trace edge would hand it to the tracer. */
  frame: FrameTrace;
  /** The trace's record of it (layers, lookups, the decision in words). */
  record: TraceRecord;
}

export class DryRun {
  private readonly recorder: FrameRecorder;
  /** The dry pipeline's own counters: they move, the switch's do not (kept so tests can see the dry run counted here). */
  readonly counters = new Counters();

  constructor(private readonly live: Pipeline, ctx: RecordContext) {
    this.recorder = new FrameRecorder(ctx);
  }

  /**
   * Runs `frame` (side 'tap': an Ethernet frame as read from the TAP;
   * 'net': a UDP payload, VXLAN header first, from `from`:`fromPort`).
   */
  run(side: 'tap' | 'net', frame: Buffer, from = 0, fromPort = 0): DryRunResult {
    if (frame.length > MAX_FRAME) throw new RangeError(`a frame of ${frame.length} bytes is longer than any slot (${MAX_FRAME})`);
    const live = this.live;
    // A pipeline per question: cheap (no tables of its own), and its state
    // (last flood's copies, learn result, clock) is never shared with the live one.
    const p = new DryPipeline({
      vni: live.vni, fdb: live.fdb, arp: live.arp, counters: this.counters,
      writesUdpHeader: live.encapOverhead > vxlan.HEADER_LEN, sourcePorts: live.sourcePorts,
      acceptUnknownVteps: live.acceptUnknownVteps, peers: live.peers, mode: live.mode, l2: live.l2,
    });
    const b = new FrameBatch(1, SLOT_HEADROOM + MAX_FRAME + 64, SLOT_HEADROOM);
    frame.copy(b.bufs[0]!, SLOT_HEADROOM);
    b.sizes[0] = frame.length;
    b.count = 1;
    const copy = Buffer.from(frame);
    const toTap = new SendList(1);
    let ev: FrameTrace;
    if (side === 'tap') {
      const toNet = new SendList(Math.max(1, live.l2?.floodList.size ?? 1));
      p.encapBatch(b, toNet, toTap);
      const v = p.decisions.verdict[0]!;
      const place = { at: 0, copies: v === Verdict.FLOOD ? p.decisions.copies[0]! : v === Verdict.ENCAP ? 1 : 0 };
      ev = explainEncap(p, frameTrace('tap', copy, 0, 0, actionOf(v), v >= 0 ? v : -1), b.slab, b.frameStart(0), toNet, place);
    } else {
      writeIpv4Record(b.names, 0, from, fromPort);
      p.decapBatch(b, toTap);
      const v = p.decisions.verdict[0]!;
      const learn = { result: p.l2 !== null ? p.decisions.learn[0]! : -1, movedFrom: p.decisions.movedFrom[0]! };
      ev = explainDecap(p, frameTrace('net', copy, from, fromPort, actionOf(v), v >= 0 ? v : -1), v === Verdict.DECAP ? 0 : -1, learn);
    }
    const verdict = p.decisions.verdict[0]!;
    return { verdict, frame: ev, record: this.recorder.record(ev, Date.now(), 1).rec };
  }
}
