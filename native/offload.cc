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

bool FindPartialCsum(const uint8_t* f, size_t len, PartialCsum* out) {
  uint16_t type;
  uint32_t l3;
  if (!L3Of(f, len, &type, &l3)) return false;
  const uint8_t* ip = f + l3;
  uint32_t l4, end;
  uint8_t proto;
  bool v6;
  if (type == 0x0800) {
    if (len < l3 + 20u || (ip[0] >> 4) != 4) return false;
    const uint32_t ihl = (ip[0] & 0x0f) * 4u;
    const uint32_t total = Get16(ip + 2);
    // A fragment's checksum covers the whole datagram: the kernel finishes it before it fragments.
    if (ihl < 20 || total < ihl || l3 + total > len || (Get16(ip + 6) & 0x3fff) != 0) return false;
    l4 = l3 + ihl;
    end = l3 + total;
    proto = ip[9];
    v6 = false;
  } else if (type == 0x86dd) {
    if (len < l3 + 40u || (ip[0] >> 4) != 6) return false;
    l4 = l3 + 40;
    end = l4 + Get16(ip + 4);
    if (end > len) return false;
    proto = ip[6];  // no extension headers: the kernel's own segments carry none
    v6 = true;
  } else {
    return false;
  }
  uint32_t offset;
  if (proto == 6) {
    if (end < l4 + 20u) return false;
    offset = 16;
  } else if (proto == 17) {
    if (end < l4 + 8u || Get16(f + l4 + 4) != end - l4) return false;  // the UDP length is the IP payload's
    offset = 6;
  } else {
    return false;
  }
  const uint16_t field = Get16(f + l4 + offset);
  if (field != Fold(PseudoSum(ip, end - l4, v6, proto))) return false;
  out->l3 = l3;
  out->start = l4;
  out->offset = offset;
  out->end = end;
  out->proto = proto;
  out->v6 = v6;
  return true;
}

bool FinishPartialCsum(uint8_t* frame, const PartialCsum& p) {
  const uint64_t seg = Sum(frame + p.start, p.end - p.start, 0);
  // seg includes the field; with the pseudo-header sum added, a field that is
  // already the right checksum verifies (0xffff) and is left as it is.
  if (Fold(seg + PseudoSum(frame + p.l3, p.end - p.start, p.v6, p.proto)) == 0xffff) return false;
  uint16_t c = static_cast<uint16_t>(~Fold(seg));
  if (c == 0) c = 0xffff;  // UDP: 0 means "no checksum"; for TCP 0xffff is the same value
  Put16(frame + p.start + p.offset, c);
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

bool ParseVxlanTcpSuper(const uint8_t* msg, size_t len, uint32_t mtu, size_t cap, TcpGso* g) {
  constexpr size_t kVxlanHdr = 8;
  if (len <= kVxlanHdr || (msg[0] & 0x08) == 0) return false;
  const uint8_t* f = msg + kVxlanHdr;
  const size_t flen = len - kVxlanHdr;
  if (!ParseTcpGso(f, flen, 1, g) || g->payload == 0) return false;
  const uint8_t* ip = f + g->l3;
  const size_t ipLen = g->v6 ? 40u + Get16(ip + 4) : Get16(ip + 2);
  if (ipLen != flen - g->l3) return false;
  if (!g->v6 && (Get16(ip + 6) & 0x3fff) != 0) return false;  // a fragment is not a super-frame
  if (cap <= kVxlanHdr + g->hdrLen) return false;
  uint32_t mss = static_cast<uint32_t>(cap - kVxlanHdr - g->hdrLen);
  const uint32_t ipAndTcp = g->hdrLen - g->l3;
  if (mtu > ipAndTcp && mtu - ipAndTcp < mss) mss = mtu - ipAndTcp;
  g->mss = mss;
  g->segments = (g->payload + mss - 1) / mss;
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
