// PacketCapture: the real underlay frames of our own UDP port, for
// `vxtap run --pcap --pcap-underlay` (src/io/packet-capture.ts).
//
// Contract:
//   packetOpen(ifname: string, port: number): number
//     An AF_PACKET socket (SOCK_RAW, protocol ETH_P_ALL: both directions,
//     outgoing frames included as PACKET_OUTGOING), nonblocking, cloexec,
//     bound to ifname's index, with a classic BPF filter attached
//     (SO_ATTACH_FILTER) that keeps only IPv4 UDP whose source or destination
//     port is `port` and that is not a non-first fragment: the kernel drops
//     the rest before it is queued. SO_TIMESTAMPNS and PACKET_AUXDATA are on
//     (the kernel's timestamp and its checksum status per frame). Anything
//     queued between socket() and the filter is drained. Returns the fd.
//     Throws: TypeError for a bad argument; errno errors: EPERM (no
//     CAP_NET_RAW, syscall "socket"), ENODEV (no such interface, syscall
//     "if_nametoindex"), EMFILE, ...
//
//     The socket's receive buffer is kPacketRcvBuf (SO_RCVBUFFORCE, else
//     SO_RCVBUF up to rmem_max).
//
//   packetDrops(fd: number): number
//     Frames the kernel dropped for this socket (a full receive queue) since
//     the last call (PACKET_STATISTICS: reading resets the count). Throws an
//     errno error for a bad fd.
//
//   new Reader({fd, kind: 'packet', slab, slotSize, headroom >= 16, slots, sizes, ...})
//     (reader.h) reads it: one recvmmsg(MSG_DONTWAIT | MSG_TRUNC) per batch
//     straight into the slots. sizes[i] is the bytes captured (at most the
//     slot); the 16 bytes just before slot i (in its headroom) hold the
//     frame's facts, little-endian:
//       +0  u8  sll_pkttype (PACKET_HOST 0, ... PACKET_OUTGOING 4)
//       +1  u8  flags: bit 0 = TP_STATUS_CSUMNOTREADY (the checksum was left
//               for a NIC: CHECKSUM_PARTIAL, the field holds the pseudo-header sum)
//       +2  u16 0
//       +4  u32 timestamp, seconds (the kernel's, SO_TIMESTAMPNS)
//       +8  u32 timestamp, nanoseconds
//       +12 u32 the frame's length on the wire (more than sizes[i] when cut)
//     A frame longer than a slot is cut, never dropped (counted: truncated).
//     Frames are as the socket sees them: on a device with GSO/GRO (a veth)
//     an outgoing frame may be a super-packet longer than the MTU, as
//     tcpdump shows it.
#pragma once

#include <cstdint>
#include <memory>

#include "common.h"
#include "read-source.h"

namespace vxtap {

constexpr uint32_t kPacketMetaLen = 16;
constexpr int kPacketRcvBuf = 8 << 20;

Napi::Value PacketOpen(const Napi::CallbackInfo& info);
Napi::Value PacketDrops(const Napi::CallbackInfo& info);

std::unique_ptr<ReadSource> NewPacketSource(int fd, const ReadBatch& b);

}  // namespace vxtap
