// TAP offloads: see offload.h.
#include "offload.h"

#include "bytes.h"

#include <cstring>

namespace vxtap {


VnetHdr ParseVnetHdr(const uint8_t* p) {
  VnetHdr h;
  h.flags = p[0];
  h.gsoType = p[1];
  std::memcpy(&h.hdrLen, p + 2, 2);
  std::memcpy(&h.gsoSize, p + 4, 2);
  std::memcpy(&h.csumStart, p + 6, 2);
  std::memcpy(&h.csumOffset, p + 8, 2);
  return h;
}

bool CompleteCsum(uint8_t* frame, size_t len, uint32_t start, uint32_t offset) {
  if (static_cast<size_t>(start) + offset + 2 > len) return false;
  uint16_t c = static_cast<uint16_t>(~Fold(Sum(frame + start, len - start, 0)));
  if (c == 0) c = 0xffff;
  Put16(frame + start + offset, c);
  return true;
}

bool ParseTcpGso(const uint8_t* frame, size_t len, uint32_t mss, TcpGso* out) {
  uint16_t type;
  uint32_t l3;
  if (mss == 0 || !L3Of(frame, len, &type, &l3)) return false;
  const uint8_t* ip = frame + l3;
  uint32_t l4;
  bool v6;
  if (type == 0x0800) {
    if (len < l3 + 20u || (ip[0] >> 4) != 4 || ip[9] != 6) return false;
    const uint32_t ihl = (ip[0] & 0x0f) * 4u;
    if (ihl < 20) return false;
    l4 = l3 + ihl;
    v6 = false;
  } else if (type == 0x86dd) {
    // TCP right behind the fixed header: the kernel's TSO6 frames carry no extension headers.
    if (len < l3 + 40u || (ip[0] >> 4) != 6 || ip[6] != 6) return false;
    l4 = l3 + 40;
    v6 = true;
  } else {
    return false;
  }
  if (len < l4 + 20u) return false;
  uint32_t doff = (frame[l4 + 12] >> 4) * 4u;
  if (doff < 20 || len < l4 + doff) return false;
  out->l3 = l3;
  out->l4 = l4;
  out->v6 = v6;
  out->hdrLen = l4 + doff;
  out->payload = static_cast<uint32_t>(len - out->hdrLen);
  out->mss = mss;
  out->segments = out->payload == 0 ? 1 : (out->payload + mss - 1) / mss;
  return true;
}

bool GsoTypeMatches(uint8_t gsoType, const TcpGso& g) {
  const uint8_t t = gsoType & 0x7f;  // without the ECN bit
  return g.v6 ? t == kGsoTcpV6 : t == kGsoTcpV4;
}

size_t WriteTcpSegmentHeader(const uint8_t* frame, const TcpGso& g, uint32_t k, uint8_t* dst) {
  const uint32_t off = k * g.mss;
  const uint32_t chunk = g.payload - off < g.mss ? g.payload - off : g.mss;
  std::memcpy(dst, frame, g.hdrLen);
  const bool first = k == 0;
  const bool last = k + 1 == g.segments;

  uint8_t* ip = dst + g.l3;
  const uint32_t l4len = g.hdrLen - g.l4 + chunk;
  uint64_t acc;
  if (g.v6) {
    // Payload length; no ID, no header checksum. Pseudo-header (RFC 8200
    // section 8.1): addresses, upper-layer length (32 bits), next header.
    Put16(ip + 4, static_cast<uint16_t>(l4len));
    uint8_t pseudo[8] = {0, 0, 0, 0, 0, 0, 0, 6};
    Put32(pseudo, l4len);
    acc = Sum(ip + 8, 32, Sum(pseudo, sizeof pseudo, 0));
  } else {
    const uint32_t ihl = g.l4 - g.l3;
    Put16(ip + 2, static_cast<uint16_t>(ihl + l4len));
    Put16(ip + 4, static_cast<uint16_t>(Get16(frame + g.l3 + 4) + k));
    Put16(ip + 10, 0);
    Put16(ip + 10, static_cast<uint16_t>(~Fold(Sum(ip, ihl, 0))));
    uint8_t pseudo[12];
    std::memcpy(pseudo, ip + 12, 8);
    pseudo[8] = 0;
    pseudo[9] = 6;
    Put16(pseudo + 10, static_cast<uint16_t>(l4len));
    acc = Sum(pseudo, sizeof pseudo, 0);
  }

  uint8_t* tcp = dst + g.l4;
  Put32(tcp + 4, Get32(frame + g.l4 + 4) + off);
  uint8_t flags = tcp[13];
  if (!last) flags &= static_cast<uint8_t>(~0x09);  // FIN 0x01, PSH 0x08
  if (!first) flags &= static_cast<uint8_t>(~0x80);  // CWR
  tcp[13] = flags;
  Put16(tcp + 16, 0);
  acc = Sum(tcp, g.hdrLen - g.l4, acc);  // the TCP header is a multiple of 4 bytes: the payload stays aligned
  acc = Sum(frame + g.hdrLen + off, chunk, acc);
  Put16(tcp + 16, static_cast<uint16_t>(~Fold(acc)));
  return g.hdrLen;
}

size_t WriteTcpSegment(const uint8_t* frame, const TcpGso& g, uint32_t k, uint8_t* dst) {
  const uint32_t off = k * g.mss;
  const uint32_t chunk = g.payload - off < g.mss ? g.payload - off : g.mss;
  std::memcpy(dst + g.hdrLen, frame + g.hdrLen + off, chunk);
  return WriteTcpSegmentHeader(frame, g, k, dst) + chunk;
}

}  // namespace vxtap
