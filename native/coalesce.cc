// Receive-side coalescing: see coalesce.h.
#include "coalesce.h"

#include "bytes.h"

namespace vxtap {

namespace {

constexpr uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kPsh = 0x08, kAck = 0x10, kUrg = 0x20, kCwr = 0x80;

uint16_t Csum(const uint8_t* p, size_t n, uint64_t acc) { return static_cast<uint16_t>(~Fold(Sum(p, n, acc))); }

// The TCP pseudo-header sum (bytes.h).
uint64_t TcpPseudoSum(const uint8_t* ip, uint32_t l4len, bool v6) { return PseudoSum(ip, l4len, v6, 6); }

}  // namespace

bool ParseCoalescable(const uint8_t* f, size_t len, TcpSeg* out) {
  uint16_t type;
  uint32_t l3;
  if (len < 14 + 20 + 20 || !L3Of(f, len, &type, &l3)) return false;
  const uint8_t* ip = f + l3;
  uint32_t l4;
  bool v6;
  if (type == 0x0800) {
    if (len < l3 + 40u || ip[0] != 0x45 || ip[9] != 6) return false;
    if ((Get16(ip + 6) & 0x3fff) != 0) return false;  // MF or a fragment offset
    if (Get16(ip + 2) != len - l3) return false;      // padding or a short frame: not coalesced
    if (Fold(Sum(ip, 20, 0)) != 0xffff) return false;
    l4 = l3 + 20;
    v6 = false;
  } else if (type == 0x86dd) {
    // TCP right behind the fixed header (the kernel's GRO takes extension headers; vxtap does not).
    if (len < l3 + 60u || (ip[0] >> 4) != 6 || ip[6] != 6) return false;
    if (Get16(ip + 4) != len - l3 - 40) return false;
    l4 = l3 + 40;
    v6 = true;
  } else {
    return false;
  }
  const uint8_t* th = f + l4;
  const uint32_t doff = (th[12] >> 4) * 4u;
  if (doff < 20 || len < l4 + doff) return false;
  const uint8_t flags = th[13];
  if (!(flags & kAck) || (flags & (kSyn | kRst | kUrg | kCwr))) return false;
  const uint32_t payload = static_cast<uint32_t>(len - l4 - doff);
  if (payload == 0) return false;
  const uint32_t l4len = static_cast<uint32_t>(len - l4);
  const uint64_t pseudo = TcpPseudoSum(ip, l4len, v6);
  // A partial checksum (the folded pseudo-header sum, offload.h) cannot be verified: the
  // super-frame's NEEDS_CSUM has it computed. Anything else must verify; so may a field
  // that only happens to equal the pseudo-header sum (then it is not counted as partial).
  const bool valid = Fold(Sum(th, l4len, pseudo)) == 0xffff;
  const bool partial = !valid && Get16(th + 16) == Fold(pseudo);
  if (!valid && !partial) return false;
  out->l3 = l3;
  out->l4 = l4;
  out->v6 = v6;
  out->hdrLen = l4 + doff;
  out->payload = payload;
  out->seq = Get32(th + 4);
  out->flags = flags;
  out->partial = partial;
  return true;
}

bool SameFlowNext(const uint8_t* hf, const TcpSeg& h, const uint8_t* nf, const TcpSeg& n, uint32_t endSeq) {
  if (n.l3 != h.l3 || n.hdrLen != h.hdrLen || n.seq != endSeq) return false;
  if ((h.flags & (kPsh | kFin)) != 0) return false;  // the head already ended its group
  if ((n.flags & ~(kPsh | kFin)) != (h.flags & ~(kPsh | kFin))) return false;
  if (std::memcmp(hf, nf, h.l3) != 0) return false;  // MACs, EtherType, VLAN tag
  const uint8_t* hi = hf + h.l3;
  const uint8_t* ni = nf + n.l3;
  if (n.v6 != h.v6) return false;
  if (h.v6) {
    // Version, traffic class and flow label (0-3), next header and hop limit (6-7), addresses (8-39).
    if (std::memcmp(hi, ni, 4) != 0 || Get16(hi + 6) != Get16(ni + 6) || std::memcmp(hi + 8, ni + 8, 32) != 0) return false;
  } else if (hi[1] != ni[1] || Get16(hi + 6) != Get16(ni + 6) || hi[8] != ni[8] || std::memcmp(hi + 12, ni + 12, 8) != 0) {
    return false;  // TOS (1), flags/fragment (6-7: DF), TTL and protocol (8-9), addresses (12-19)
  }
  const uint8_t* ht = hf + h.l4;
  const uint8_t* nt = nf + n.l4;
  // Ports (0-3), ack (8-11), data offset (12), options (20..).
  if (std::memcmp(ht, nt, 4) != 0 || std::memcmp(ht + 8, nt + 8, 5) != 0) return false;
  return std::memcmp(ht + 20, nt + 20, h.hdrLen - h.l4 - 20) == 0;
}

void SealGroup(uint8_t* hf, const TcpSeg& h, uint32_t payload, uint8_t lastFlags, uint8_t vhdr[kVnetHdrLen]) {
  uint8_t* ip = hf + h.l3;
  uint8_t* th = hf + h.l4;
  const uint32_t l4len = h.hdrLen - h.l4 + payload;
  if (h.v6) {
    Put16(ip + 4, static_cast<uint16_t>(l4len));  // payload length: no header checksum in IPv6
  } else {
    Put16(ip + 2, static_cast<uint16_t>(20 + l4len));
    Put16(ip + 10, 0);
    Put16(ip + 10, Csum(ip, 20, 0));
  }
  th[13] = static_cast<uint8_t>(th[13] | (lastFlags & (kPsh | kFin)));
  Put16(th + 16, Fold(TcpPseudoSum(ip, l4len, h.v6)));
  const uint16_t hdrLen = static_cast<uint16_t>(h.hdrLen);
  const uint16_t gsoSize = static_cast<uint16_t>(h.payload);
  const uint16_t csumStart = static_cast<uint16_t>(h.l4);
  const uint16_t csumOffset = 16;
  vhdr[0] = kVnetNeedsCsum;
  vhdr[1] = h.v6 ? kGsoTcpV6 : kGsoTcpV4;
  // Host byte order (see offload.h).
  std::memcpy(vhdr + 2, &hdrLen, 2);
  std::memcpy(vhdr + 4, &gsoSize, 2);
  std::memcpy(vhdr + 6, &csumStart, 2);
  std::memcpy(vhdr + 8, &csumOffset, 2);
}

bool Coalescer::Parse(uint32_t k, TcpSeg* out) {
  if (k == cachedK_) {
    *out = cached_;
    return cachedOk_;
  }
  return ParseCoalescable(base_ + starts_[k], lens_[k], out);
}

// A frame written alone, behind a zeroed virtio_net_hdr: as it came, or with its partial
// checksum finished in place (as on a plain TAP: the sum that tells a partial checksum from
// a finished one that equals the pseudo-header sum finishes it too).
uint32_t Coalescer::Alone(uint32_t k, uint8_t vhdr[kVnetHdrLen]) {
  std::memset(vhdr, 0, kVnetHdrLen);
  PartialCsum p;
  uint8_t* f = base_ + starts_[k];
  partials_ = FindPartialCsum(f, lens_[k], &p) && FinishPartialCsum(f, p) ? 1 : 0;
  return 1;
}

uint32_t Coalescer::Next(uint32_t k, uint8_t vhdr[kVnetHdrLen]) {
  if (!Parse(k, &head_)) return Alone(k, vhdr);
  const uint8_t* hf = base_ + starts_[k];
  // What the 16-bit length field counts besides payload: IPv4 total length has the IPv4 and TCP
  // headers, IPv6 payload length the TCP header only.
  const uint32_t fixed = (head_.v6 ? 0 : 20) + (head_.hdrLen - head_.l4);
  uint32_t n = 1;
  uint32_t payload = head_.payload;
  uint32_t endSeq = head_.seq + head_.payload;
  uint8_t lastFlags = head_.flags;
  uint32_t partials = head_.partial ? 1 : 0;
  bool open = (head_.flags & (kPsh | kFin)) == 0;
  while (open && k + n < count_ && n < kMaxGroupSegs) {
    TcpSeg s;
    const uint32_t j = k + n;
    const bool ok = Parse(j, &s);
    if (!ok || s.payload > head_.payload || fixed + payload + s.payload > kMaxGroupIpLen ||
        !SameFlowNext(hf, head_, base_ + starts_[j], s, endSeq)) {
      cachedK_ = j;  // the next group starts here: keep its parse
      cachedOk_ = ok;
      cached_ = s;
      break;
    }
    payload += s.payload;
    endSeq += s.payload;
    lastFlags = s.flags;
    partials += s.partial ? 1 : 0;
    n++;
    open = s.payload == head_.payload && (s.flags & (kPsh | kFin)) == 0;
  }
  if (n == 1) return Alone(k, vhdr);
  SealGroup(base_ + starts_[k], head_, payload, lastFlags, vhdr);
  partials_ = partials;
  return n;
}

}  // namespace vxtap
