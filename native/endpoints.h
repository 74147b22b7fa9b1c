// The endpoint record: one VTEP's socket address, as the switch's endpoint
// table holds it (src/io/endpoints.ts, EndpointTable) and as a datagram
// port's reader fills it per received datagram (FrameBatch.names). A send
// points msg_name straight at the record; the family says its length. The
// JS side names the same offsets (EP_*), and test/unit/io/endpoints.test.ts
// checks that the two agree (addon.endpointFields).
//
// A record is kEpRecord bytes, sizeof(sockaddr_in6): Linux's sockaddr_in
// (AF_INET: family, port, address, zero) or sockaddr_in6 (AF_INET6: family,
// port, flowinfo, address, scope id), as the kernel reads them.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace vxtap {

constexpr uint32_t kEpRecord = sizeof(sockaddr_in6);
constexpr uint32_t kEpFamily = offsetof(sockaddr_in, sin_family);
constexpr uint32_t kEpPort = offsetof(sockaddr_in, sin_port);
constexpr uint32_t kEpAddr4 = offsetof(sockaddr_in, sin_addr);
constexpr uint32_t kEpFlowinfo6 = offsetof(sockaddr_in6, sin6_flowinfo);
constexpr uint32_t kEpAddr6 = offsetof(sockaddr_in6, sin6_addr);
constexpr uint32_t kEpScope6 = offsetof(sockaddr_in6, sin6_scope_id);

static_assert(kEpRecord == 28, "the JS side (EP_RECORD) assumes a 28-byte record");
static_assert(offsetof(sockaddr_in6, sin6_port) == kEpPort, "one port offset for both families");

// A view over a table of records (the caller's memory). No ownership.
class EndpointView {
 public:
  EndpointView() = default;
  EndpointView(uint8_t* table, size_t len) : t_(table), n_(len / kEpRecord) {}

  size_t Size() const { return n_; }
  bool Has(int32_t i) const { return i >= 0 && static_cast<size_t>(i) < n_; }
  uint8_t* At(int32_t i) const { return t_ + static_cast<size_t>(i) * kEpRecord; }
  // Record i as a msg_name: its address, and the length its family gives
  // (0 for an empty or unknown record: the kernel refuses that message alone).
  sockaddr* Name(int32_t i) const { return reinterpret_cast<sockaddr*>(At(i)); }
  socklen_t NameLen(int32_t i) const { return NameLenOf(At(i)); }

  static socklen_t NameLenOf(const uint8_t* rec) {
    sa_family_t f;
    std::memcpy(&f, rec + kEpFamily, sizeof f);
    return f == AF_INET ? sizeof(sockaddr_in) : f == AF_INET6 ? sizeof(sockaddr_in6) : 0;
  }
  // Two records name the same destination (the bytes the family uses are equal).
  static bool Same(const uint8_t* a, const uint8_t* b) {
    const socklen_t n = NameLenOf(a);
    return n != 0 && std::memcmp(a, b, n) == 0;
  }

 private:
  uint8_t* t_ = nullptr;
  size_t n_ = 0;
};

}  // namespace vxtap
