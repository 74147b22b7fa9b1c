// TAP offloads: the virtio_net_hdr in front of each frame of an IFF_VNET_HDR
// TAP, checksum completion and TCPv4 segmentation (software TSO).
//
// The header (struct virtio_net_hdr of include/uapi/linux/virtio_net.h, the
// 10-byte form: vxtap sets TUNSETVNETHDRSZ to 10, no num_buffers field):
//   u8 flags        VIRTIO_NET_HDR_F_NEEDS_CSUM (1): the checksum at
//                   csum_start + csum_offset holds only the pseudo-header sum
//   u8 gso_type     NONE 0, TCPV4 1, UDP 3, TCPV6 4, | ECN 0x80
//   u16 hdr_len     (a hint; vxtap parses the headers itself)
//   u16 gso_size    the MSS of a GSO super-frame
//   u16 csum_start  from the start of the Ethernet header
//   u16 csum_offset from csum_start
// 16-bit fields are in the host's byte order (little-endian here: a TAP
// without TUNSETVNETBE on a little-endian host).
#pragma once

#include <cstddef>
#include <cstdint>

namespace vxtap {

constexpr size_t kVnetHdrLen = 10;
constexpr uint8_t kVnetNeedsCsum = 1;
constexpr uint8_t kGsoNone = 0;
constexpr uint8_t kGsoTcpV4 = 1;
constexpr uint8_t kGsoTcpV6 = 4;

struct VnetHdr {
  uint8_t flags;
  uint8_t gsoType;
  uint16_t hdrLen;
  uint16_t gsoSize;
  uint16_t csumStart;
  uint16_t csumOffset;
};

VnetHdr ParseVnetHdr(const uint8_t* p);

// Completes a partial checksum: the Internet checksum of frame[start, len)
// (which includes the pseudo-header sum the kernel left in the field),
// folded, complemented (0 written as 0xffff), at start + offset. False when
// the span is outside the frame (nothing written).
bool CompleteCsum(uint8_t* frame, size_t len, uint32_t start, uint32_t offset);

// A parsed TCP GSO super-frame (IPv4 or IPv6).
struct TcpGso {
  uint32_t l3 = 0;       // IP header offset (14, or 18 behind one VLAN tag)
  uint32_t l4 = 0;       // TCP header offset
  uint32_t hdrLen = 0;   // Ethernet + IPv4 + TCP headers
  uint32_t payload = 0;  // TCP payload bytes of the super-frame
  uint32_t mss = 0;
  uint32_t segments = 0;
  bool v6 = false;       // IPv6 (TSO6): no IP ID or header checksum
};

// Parses frame[0, len) as Ethernet (+ one 802.1Q tag) + IPv4 + TCP, or +
// IPv6 + TCP (no extension headers), with the given MSS. False when it is
// not that, or mss is 0.
bool ParseTcpGso(const uint8_t* frame, size_t len, uint32_t mss, TcpGso* out);

// Whether the virtio_net_hdr's gso_type (TCPV4 1, TCPV6 4, ECN bit aside) is the parsed frame's.
bool GsoTypeMatches(uint8_t gsoType, const TcpGso& g);

// Writes segment k (0 .. g.segments-1) of the super-frame as a full frame at
// dst: headers copied; IPv4 total length, ID (+k) and header checksum (IPv6:
// payload length); TCP
// sequence (+k*mss), FIN/PSH on the last segment only, CWR on the first only,
// checksum over pseudo-header + segment. Returns the frame length
// (g.hdrLen + at most g.mss).
size_t WriteTcpSegment(const uint8_t* frame, const TcpGso& g, uint32_t k, uint8_t* dst);

// The headers of segment k only (g.hdrLen bytes at dst, returned), with the
// TCP checksum over the segment's payload read in place from the
// super-frame: for a send that takes the payload straight from `frame`
// (udp-pool.cc), without copying it.
size_t WriteTcpSegmentHeader(const uint8_t* frame, const TcpGso& g, uint32_t k, uint8_t* dst);

}  // namespace vxtap
