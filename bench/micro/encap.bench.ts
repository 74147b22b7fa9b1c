/**
 * Suite 4, the per-frame encap decision: `Pipeline.encapBatch` over the
 * 128-frame mix of scene.ts (one op = one batch; per frame = op / 128).
 *
 *   baseline   puts the two answered ARP requests back, which every case
 *              must do first (the responder rewrites them in place); its
 *              time is taken off the others for the per-frame figures;
 *   trace off  no trace edge, the batch port (raw socket: the UDP header and
 *              the per-flow source port are written too), then the dgram port;
 *   trace on   a no-op tracer (the trace edge alone: a copy, an event
 *              and the lookups per frame), the text tracer writing to a null sink, and the text
 *              tracer with a filter that matches nothing (every frame is
 *              still decoded and analysed, none rendered). As the Switch
 *              does, the trace edge wraps each batch (switch/trace-edge.ts).
 */
import { add } from 'benny';
import { SendList } from '../../src/io/port';
import type { FrameTracer, Tracer } from '../../src/switch/trace';
import { TraceEdge } from '../../src/switch/trace-edge';
import { main, runSuite, sink, type Case } from './common';
import {
  BATCH, FILTER_MATCHING_NOTHING, checkEncap, checkTracer, encapMix, host, noopTracer, peers, restoreArp, textTracer,
} from './scene';

export const SUITE = 'encap';
export const CASES = {
  restore: 'baseline: put the 2 ARP requests back',
  off: 'trace off (no trace edge), batch port',
  offDgram: 'trace off, dgram port (no UDP header, no flow hash)',
  noop: 'trace on: no-op tracer (the trace edge alone)',
  text: 'trace on: text → null sink',
  filtered: 'trace on: text, filter matching nothing',
} as const;

const ps = peers(8);

/** One op: the batch as the TAP would hand it over, decided, and (traced) handed to the tracer. */
function batchOp(writesUdpHeader: boolean, tracer: Tracer | null): () => void {
  const h = host(ps, writesUdpHeader);
  const m = encapMix(ps);
  checkEncap(h, m);
  // As the Switch does with a tracer: the trace edge around the batch (switch/trace-edge.ts).
  const edge = tracer === null ? null : new TraceEdge(tracer, h.pipeline);
  const toNet = new SendList(BATCH);
  const toTap = new SendList(BATCH);
  return () => {
    restoreArp(m);
    toNet.count = 0;
    toTap.count = 0;
    if (edge !== null) edge.before(m.batch);
    h.pipeline.encapBatch(m.batch, toNet, toTap);
    if (edge !== null) edge.afterTap(m.batch, toNet, toTap);
    sink.n += toNet.count;
  };
}

export function cases(tracers: { text?: FrameTracer; filtered?: FrameTracer } = {}): Case[] {
  const m = encapMix(ps);
  const toNet = new SendList(BATCH);
  const toTap = new SendList(BATCH);
  return [
    add(CASES.restore, () => {
      restoreArp(m);
      toNet.count = 0;
      toTap.count = 0;
      sink.n += toNet.count;
    }),
    add(CASES.off, () => batchOp(true, null)),
    add(CASES.offDgram, () => batchOp(false, null)),
    add(CASES.noop, () => batchOp(true, noopTracer())),
    add(CASES.text, () => batchOp(true, (tracers.text = textTracer(ps)))),
    add(CASES.filtered, () => batchOp(true, (tracers.filtered = textTracer(ps, FILTER_MATCHING_NOTHING)))),
  ];
}

export async function run(): Promise<unknown> {
  const tracers: { text?: FrameTracer; filtered?: FrameTracer } = {};
  const summary = await runSuite(SUITE, 'encap: Pipeline.encapBatch, one 128-frame batch per op', 'batch', cases(tracers));
  checkTracer(tracers.text!, 'shown', CASES.text);
  checkTracer(tracers.filtered!, 'filtered', CASES.filtered);
  return summary;
}

if (require.main === module) main(run);
