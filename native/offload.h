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

// A partial L4 checksum in a frame on its way to the TAP.
//
// Across a veth the kernel hands a packet on with CHECKSUM_PARTIAL, and a
// kernel vxlan peer at its default offloads encapsulates its inner TCP/UDP
// segments that way: the checksum field holds only the pseudo-header sum, for
// a NIC to finish. That is the folded, NOT complemented, sum:
// __tcp_v4_send_check and udp4_hwcsum write ~csum_tcpudp_magic(...) (magic
// is the complemented fold), and a capture of a kernel vxlan peer's SYN on the
// receiving veth showed 0x17a6 = fold(10.60.1.0 + 10.60.2.0 + 6 + 40)
// (test/fixtures/kernel-vxlan-vni42.pcap holds such frames too). The kernel's
// receive path trusts that state; vxtap reads the bytes from a UDP socket, so
// on the way to the TAP it recognises the field and finishes it (a frame
// written alone), or lets the NEEDS_CSUM of a coalesced super-frame cover it
// (coalesce.h).
struct PartialCsum {
  uint32_t l3 = 0;      // the IP header's offset
  uint32_t start = 0;   // the L4 header's offset (csum_start)
  uint32_t offset = 0;  // the checksum field's offset from start: 16 TCP, 6 UDP (csum_offset)
  uint32_t end = 0;     // where the segment ends (the IP length's end; Ethernet padding after it is not summed)
  uint8_t proto = 0;    // 6 TCP, 17 UDP
  bool v6 = false;
};

// Whether frame[0, len) is Ethernet (+ one 802.1Q tag) + IPv4 (not a
// fragment; options allowed) or IPv6 (TCP/UDP right behind the fixed
// header) + TCP or UDP whose checksum field equals the folded pseudo-header
// sum of the segment (the IP length, not the frame's, bounds it). An IPv4 UDP
// checksum of 0 ("none") never matches: a pseudo-header sum is never 0. A
// finished checksum that happens to equal the pseudo-header sum (1 in 65536)
// matches too: FinishPartialCsum tells them apart.
bool FindPartialCsum(const uint8_t* frame, size_t len, PartialCsum* out);

// Finishes a partial checksum in place, as a NIC would: the complemented sum
// of frame[p.start, p.end) with the pseudo-header sum already in the field
// (UDP: 0 becomes 0xffff). Returns false when it was a finished checksum
// already (the segment verified as it was: nothing written).
bool FinishPartialCsum(uint8_t* frame, const PartialCsum& p);

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

// A VXLAN datagram (8-byte header, I flag set) whose inner frame is one TCP
// super-frame (IPv4 or IPv6, as ParseTcpGso; the IP length exactly the
// rest): what a kernel vxlan peer sends across a veth at its default
// offloads (TSO, and the veth passes the GSO packet whole, so a UDP socket
// receives up to 64 KB in one datagram, with a partial inner checksum).
// Sets out->mss so that each segment, behind the VXLAN header, fits `cap`
// bytes and, when `mtu` is not 0, its IP packet fits the overlay's MTU; and
// out->segments. WriteTcpSegment(msg + 8, *out, k, dst + 8) then writes
// segment k as a finished frame. False when the datagram is not that.
bool ParseVxlanTcpSuper(const uint8_t* msg, size_t len, uint32_t mtu, size_t cap, TcpGso* out);

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
