// Receive-side coalescing for writes to a vnet TAP (software GRO).
//
// Decapsulated TCP segments (IPv4 or IPv6) of one flow that follow each other in a batch
// are written to the TAP as one GSO super-frame (virtio_net_hdr gso_type
// TCPV4 or TCPV6, NEEDS_CSUM), so the kernel's TCP stack takes one skb where it would
// take dozens. The rules follow the kernel's tcp_gro_receive /
// inet_gro_receive:
//   - same Ethernet header (and VLAN tag); IPv4 without options or
//     fragmentation, same TOS, TTL, DF, addresses, or IPv6 without
//     extension headers, same traffic class, flow label, hop limit,
//     addresses; TCP same ports, ack, data offset and options;
//   - each next segment starts where the last ended (seq), carries payload,
//     and has the head's flags (ACK, no SYN/RST/URG/CWR), PSH or FIN
//     allowed and ending the group;
//   - every segment has the head's payload size (the MSS), except a shorter
//     last one, which ends the group; at most 64 KB in the IP length field;
//   - the IPv4 header and TCP checksums of every segment are verified first:
//     a super-frame's checksum is trusted by the kernel (NEEDS_CSUM), so a
//     segment that fails is written alone, unchanged, for the kernel to drop
//     and count. A partial TCP checksum (offload.h: PartialCsum, what a
//     kernel vxlan peer across a veth sends) passes: the kernel would have
//     trusted that segment on its own receive path, and the super-frame's
//     NEEDS_CSUM has the checksum computed over its data again.
//
// A frame written alone that holds a partial TCP/UDP checksum has it
// finished in place (FinishPartialCsum), as on a plain TAP. NEEDS_CSUM would
// spare that sum, but telling a partial checksum from a finished one that
// happens to equal the pseudo-header sum (1 in 65536) takes the same sum,
// and csumRepaired is meant to be exact.
#pragma once

#include <cstddef>
#include <cstdint>

#include "offload.h"

namespace vxtap {

// One TCP segment as the coalescer sees it.
struct TcpSeg {
  uint32_t l3 = 0;       // IP header offset (14, or 18 behind a VLAN tag)
  uint32_t l4 = 0;       // TCP header offset (l3 + 20, or l3 + 40 for IPv6)
  bool v6 = false;
  uint32_t hdrLen = 0;   // Ethernet + IPv4 + TCP headers
  uint32_t payload = 0;  // TCP payload bytes
  uint32_t seq = 0;
  uint8_t flags = 0;     // TCP flags byte
  bool partial = false;  // the TCP checksum holds the pseudo-header sum only, and does not verify
};

// Parses frame[0, len) as a segment that may take part in a group: plain
// Ethernet (+ one 802.1Q tag) + IPv4 (IHL 5, not a fragment, total length
// exactly the frame's rest) or IPv6 (next header TCP, payload length exactly
// the frame's rest) + TCP with payload, ACK set and no SYN, RST, URG or CWR,
// and valid checksums (IPv4 header; TCP, or a partial TCP checksum). False otherwise.
bool ParseCoalescable(const uint8_t* frame, size_t len, TcpSeg* out);

// Whether `next` may follow the group whose head is `head` and whose data
// ends at sequence `endSeq` (the caller checks sizes and the group's end).
bool SameFlowNext(const uint8_t* headFrame, const TcpSeg& head, const uint8_t* nextFrame, const TcpSeg& next,
                  uint32_t endSeq);

// Turns the head frame into the header of a super-frame of `payload` bytes
// (IPv4 total length and header checksum, or IPv6 payload length; the TCP flags of the last segment
// OR'd in; the TCP checksum field set to the pseudo-header sum, as NEEDS_CSUM
// wants it) and fills the virtio_net_hdr for it (GSO TCPV4, gso_size = the
// head's payload, csum_start = l4, csum_offset = 16; TCPV6 for IPv6).
void SealGroup(uint8_t* headFrame, const TcpSeg& head, uint32_t payload, uint8_t lastFlags, uint8_t vhdr[kVnetHdrLen]);

// Plans the writes of one batch of frames (frame k = base[starts[k], +lens[k])):
// Next(k, vhdr) returns how many frames from k form the next write and fills
// its virtio_net_hdr. For a group of n > 1, the head frame (k) is sealed in
// place (SealGroup); the rest contribute their payload, frame k+i's at
// base + starts[k+i] + head().hdrLen. n = 1: frame k alone behind a zeroed
// header, its checksum finished in place when partial. partials() says how
// many of the write's segments had partial checksums. Each frame is parsed (and its checksums verified) once for grouping.
// Results: the caller (tapWrite) gives the n frames of one Next() the one
// status of their write (SendList.status: all 0, or all the errno that
// refused the super-frame).
class Coalescer {
 public:
  Coalescer(uint8_t* base, const uint32_t* starts, const uint32_t* lens, uint32_t count)
      : base_(base), starts_(starts), lens_(lens), count_(count) {}
  uint32_t Next(uint32_t k, uint8_t vhdr[kVnetHdrLen]);
  const TcpSeg& head() const { return head_; }
  uint32_t partials() const { return partials_; }

 private:
  bool Parse(uint32_t k, TcpSeg* out);
  uint32_t Alone(uint32_t k, uint8_t vhdr[kVnetHdrLen]);

  uint8_t* base_;
  const uint32_t* starts_;
  const uint32_t* lens_;
  uint32_t count_;
  TcpSeg head_;
  uint32_t partials_ = 0;
  // The frame that ended the last group, parsed already: cachedK_ (UINT32_MAX when none).
  uint32_t cachedK_ = UINT32_MAX;
  bool cachedOk_ = false;
  TcpSeg cached_;
};

// The most a group may put in the 16-bit IP length field (IPv4 total length, IPv6 payload length).
constexpr uint32_t kMaxGroupIpLen = 65535;
// The most segments one group takes (bounds a writev's iovec count).
constexpr uint32_t kMaxGroupSegs = 64;

}  // namespace vxtap
