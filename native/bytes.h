// Big-endian field access and the Internet checksum (RFC 1071) over raw
// bytes, shared by the offload code (offload.cc, coalesce.cc).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace vxtap {

inline uint16_t Get16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
inline void Put16(uint8_t* p, uint16_t v) { p[0] = static_cast<uint8_t>(v >> 8); p[1] = static_cast<uint8_t>(v); }
inline uint32_t Get32(const uint8_t* p) {
  return (static_cast<uint32_t>(p[0]) << 24) | (static_cast<uint32_t>(p[1]) << 16) | (static_cast<uint32_t>(p[2]) << 8) | p[3];
}
inline void Put32(uint8_t* p, uint32_t v) { Put16(p, static_cast<uint16_t>(v >> 16)); Put16(p + 2, static_cast<uint16_t>(v)); }

// One's-complement sum of p[0, n) as big-endian 16-bit words (an odd last
// byte is the high byte of a word), not folded.
inline uint64_t Sum(const uint8_t* p, size_t n, uint64_t acc) {
  while (n >= 8) {
    uint32_t a, b;
    std::memcpy(&a, p, 4);
    std::memcpy(&b, p + 4, 4);
    // Summing native-order 32-bit words and byte-swapping the folded result
    // gives the big-endian sum (RFC 1071, byte order independence).
    acc += a;
    acc += b;
    p += 8;
    n -= 8;
  }
  uint64_t tail = 0;
  while (n >= 2) {
    uint16_t w;
    std::memcpy(&w, p, 2);
    tail += w;
    p += 2;
    n -= 2;
  }
  if (n == 1) {
    uint16_t w = 0;
    std::memcpy(&w, p, 1);  // the byte at the lower address, padded with a zero
    tail += w;
  }
  return acc + tail;
}

// Folds a native-order sum to 16 bits and returns it in big-endian value order.
inline uint16_t Fold(uint64_t acc) {
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  uint16_t s = static_cast<uint16_t>(acc);
  uint8_t b[2];
  std::memcpy(b, &s, 2);
  return static_cast<uint16_t>((b[0] << 8) | b[1]);
}


// The pseudo-header sum (not folded) of a TCP or UDP segment of l4len bytes
// behind the IP header at ip: IPv4 (RFC 793, RFC 768: addresses, zero,
// protocol, length) or IPv6 (RFC 8200 section 8.1: addresses, 32-bit
// upper-layer length, next header).
inline uint64_t PseudoSum(const uint8_t* ip, uint32_t l4len, bool v6, uint8_t proto) {
  if (v6) {
    uint8_t tail[8] = {0, 0, 0, 0, 0, 0, 0, proto};
    Put32(tail, l4len);
    return Sum(ip + 8, 32, Sum(tail, sizeof tail, 0));
  }
  uint8_t pseudo[12];
  std::memcpy(pseudo, ip + 12, 8);
  pseudo[8] = 0;
  pseudo[9] = proto;
  Put16(pseudo + 10, static_cast<uint16_t>(l4len));
  return Sum(pseudo, sizeof pseudo, 0);
}

// The EtherType of an Ethernet frame of len bytes and the offset of its L3
// header: 14, or 18 behind one 802.1Q (or 802.1ad) tag. False when the frame
// is too short to hold that much.
inline bool L3Of(const uint8_t* frame, size_t len, uint16_t* type, uint32_t* l3) {
  if (len < 14) return false;
  *type = Get16(frame + 12);
  *l3 = 14;
  if (*type == 0x8100 || *type == 0x88a8) {
    if (len < 18) return false;
    *type = Get16(frame + 16);
    *l3 = 18;
  }
  return true;
}

}  // namespace vxtap
