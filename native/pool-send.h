// The pool send's request (udp-pool.cc, PoolSend): built once in JS
// (src/io/udp-pool.ts, PoolSend) and bound to the addon's PoolSend object,
// which pins every array and keeps its address, so that a send crosses with
// no argument at all: JS writes the scalars, the addon reads them. This file
// names the slots on the addon's side; the JS side names the same indices
// (PS_*), and test/unit/io/endpoints.test.ts checks that the two agree
// (addon.poolSendFields).
//
// refs (a JS Array given to `new PoolSend(refs)`), by index:
//   kPsFds        Int32Array   the pool's sockets; fds[i] bound to portMin + i
//   kPsSlab       Buffer       the spans' slab
//   kPsStarts     Uint32Array  SendList.starts
//   kPsLens       Uint32Array  SendList.lens
//   kPsEndpoints  Buffer       the endpoint table (endpoints.h records)
//   kPsEps        Int32Array   SendList.eps: per entry, its record's index
//   kPsSrcPorts   Uint16Array  SendList.srcPorts
//   kPsAux        Buffer | undefined       whole super-frames (FrameBatch.aux)
//   kPsWhole      Uint32Array | undefined  their records (super-frames.h)
//   kPsWholeOf    Int32Array   SendList.wholeOf
//   kPsErrOut     Int32Array(2)  [skipped, last errno]
//   kPsGsoOut     Int32Array(8)  what GSO did (udp-pool.cc)
//   kPsStatus     Int32Array   SendList.status
//   kPsScalars    Int32Array   the scalars below
// scalars, by index:
//   kPsCount      entries to send (<= every list array's length)
//   kPsGso        the longest datagram to send segmented (0: GSO off)
//   kPsPortMin    the pool's first port
#pragma once

#include <cstdint>

namespace vxtap {

constexpr uint32_t kPsFds = 0;
constexpr uint32_t kPsSlab = 1;
constexpr uint32_t kPsStarts = 2;
constexpr uint32_t kPsLens = 3;
constexpr uint32_t kPsEndpoints = 4;
constexpr uint32_t kPsEps = 5;
constexpr uint32_t kPsSrcPorts = 6;
constexpr uint32_t kPsAux = 7;
constexpr uint32_t kPsWhole = 8;
constexpr uint32_t kPsWholeOf = 9;
constexpr uint32_t kPsErrOut = 10;
constexpr uint32_t kPsGsoOut = 11;
constexpr uint32_t kPsStatus = 12;
constexpr uint32_t kPsScalars = 13;
constexpr uint32_t kPsRefs = 14;

constexpr uint32_t kPsCount = 0;
constexpr uint32_t kPsGso = 1;
constexpr uint32_t kPsPortMin = 2;
constexpr uint32_t kPsScalarSlots = 3;

}  // namespace vxtap
