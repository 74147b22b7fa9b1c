/**
 * Suite 5, decap validation: `Pipeline.decapBatch` over the 128-datagram mix
 * of scene.ts (122 good; wrong VNI, no I flag, unknown VTEP, too short), one
 * op = one batch. Decap does not rewrite the datagrams, so nothing is put
 * back between ops.
 *
 *   trace off  no trace edge; and the same with the inner source check on
 *              (the `vxtap run` default: every good datagram's inner source
 *              checked against its peer's row);
 *   trace on   a no-op tracer (the trace edge alone), the text tracer writing to a
 *              null sink (outer IPv4/UDP rebuilt and decoded with the inner
 *              frame, as `vxtap run --trace` shows them), and the text tracer
 *              with a filter that matches nothing. As the Switch does, the
 *              tracer's endBatch follows each batch.
 */
import { add } from 'benny';
import { SendList } from '../../src/io/port';
import type { FrameTracer, Tracer } from '../../src/switch/trace';
import { TraceEdge } from '../../src/switch/trace-edge';
import { main, runSuite, sink, type Case } from './common';
import { BATCH, FILTER_MATCHING_NOTHING, checkDecap, checkTracer, decapMix, host, noopTracer, peers, textTracer } from './scene';

export const SUITE = 'decap';
export const CASES = {
  off: 'trace off (no trace edge)',
  checked: 'trace off, inner source check on',
  noop: 'trace on: no-op tracer (the trace edge alone)',
  text: 'trace on: text → null sink',
  filtered: 'trace on: text, filter matching nothing',
} as const;

const ps = peers(8);

function batchOp(tracer: Tracer | null, innerSourceCheck = false): () => void {
  const h = host(ps, true, innerSourceCheck);
  const b = decapMix(ps);
  checkDecap(h, b);
  // As the Switch does with a tracer: the trace edge around the batch (switch/trace-edge.ts).
  const edge = tracer === null ? null : new TraceEdge(tracer, h.pipeline);
  const toTap = new SendList(BATCH);
  return () => {
    toTap.count = 0;
    if (edge !== null) edge.before(b);
    h.pipeline.decapBatch(b, toTap);
    if (edge !== null) edge.afterNet(b, toTap);
    sink.n += toTap.count;
  };
}

export function cases(tracers: { text?: FrameTracer; filtered?: FrameTracer } = {}): Case[] {
  return [
    add(CASES.off, () => batchOp(null)),
    add(CASES.checked, () => batchOp(null, true)),
    add(CASES.noop, () => batchOp(noopTracer())),
    add(CASES.text, () => batchOp((tracers.text = textTracer(ps)))),
    add(CASES.filtered, () => batchOp((tracers.filtered = textTracer(ps, FILTER_MATCHING_NOTHING)))),
  ];
}

export async function run(): Promise<unknown> {
  const tracers: { text?: FrameTracer; filtered?: FrameTracer } = {};
  const summary = await runSuite(SUITE, 'decap: Pipeline.decapBatch, one 128-datagram batch per op', 'batch', cases(tracers));
  checkTracer(tracers.text!, 'shown', CASES.text);
  checkTracer(tracers.filtered!, 'filtered', CASES.filtered);
  return summary;
}

if (require.main === module) main(run);
