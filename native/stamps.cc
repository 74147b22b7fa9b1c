// Stamps (stamps.h): the file, and reading an ICMP echo's id and sequence
// out of the first frame of a batch so that the budget can pair stamps with
// the ping that caused them.
#include "stamps.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace vxtap {

StampRecord* g_stampsRing = nullptr;

namespace {

constexpr size_t kHeader = 64;
constexpr uint64_t kDefaultCapacity = 1u << 20;
// VXTAP_STAMPS_MAX's ceiling: 2^28 records are a 4 GiB file, far more than a
// latency run takes, and the size below stays far from wrapping.
constexpr uint64_t kMaxCapacity = 1ull << 28;
uint64_t* g_count = nullptr;
uint64_t g_capacity = 0;

uint16_t Be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }

// The ICMP echo in an Ethernet frame (an untagged IPv4 one), or type 255.
void Icmp(const uint8_t* f, uint32_t len, StampRecord* r) {
  r->icmpType = 255;
  if (f == nullptr || len < 14 + 20 + 8 || Be16(f + 12) != 0x0800) return;
  const uint8_t* ip = f + 14;
  const uint32_t ihl = (ip[0] & 0x0f) * 4u;
  if ((ip[0] >> 4) != 4 || ihl < 20 || ip[9] != 1 || len < 14 + ihl + 8) return;
  const uint8_t* icmp = ip + ihl;
  if (icmp[0] != 0 && icmp[0] != 8) return;
  r->icmpType = icmp[0];
  r->icmpId = Be16(icmp + 4);
  r->icmpSeq = Be16(icmp + 6);
}

}  // namespace

void StampsInit() {
  const char* path = std::getenv("VXTAP_STAMPS");
  if (path == nullptr || *path == '\0' || g_stampsRing != nullptr) return;
  uint64_t cap = kDefaultCapacity;
  if (const char* m = std::getenv("VXTAP_STAMPS_MAX")) {
    // Checked before the size is computed: strtoull takes "-1" as 2^64-1 and
    // "12abc" as 12, and kHeader + cap * 16 can wrap to a tiny file that
    // StampTake would then write past.
    char* end = nullptr;
    errno = 0;
    const unsigned long long v = std::strtoull(m, &end, 10);
    if (*m < '0' || *m > '9' || end == m || *end != '\0' || errno == ERANGE || v > kMaxCapacity) {
      std::fprintf(stderr, "vxtap: VXTAP_STAMPS_MAX=%s: not a number of records in 0 .. %llu: stamps are off\n", m,
                   static_cast<unsigned long long>(kMaxCapacity));
      return;
    }
    cap = v;
  }
  if (cap == 0) return;
  const size_t bytes = kHeader + cap * sizeof(StampRecord);
  const int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0 || ftruncate(fd, static_cast<off_t>(bytes)) != 0) {
    std::fprintf(stderr, "vxtap: VXTAP_STAMPS=%s: cannot create it (%s): stamps are off\n", path, std::strerror(errno));
    if (fd >= 0) close(fd);
    return;
  }
  void* m = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (m == MAP_FAILED) {
    std::fprintf(stderr, "vxtap: VXTAP_STAMPS=%s: mmap failed (%s): stamps are off\n", path, std::strerror(errno));
    return;
  }
  uint8_t* base = static_cast<uint8_t*>(m);
  std::memcpy(base, "VXSTAMP1", 8);
  std::memcpy(base + 8, &cap, 8);
  g_count = reinterpret_cast<uint64_t*>(base + 16);
  *g_count = 0;
  g_capacity = cap;
  g_stampsRing = reinterpret_cast<StampRecord*>(base + kHeader);
}

void StampTake(StampPoint p, StampSide side, uint32_t frames, const uint8_t* frame, uint32_t len) {
  if (side == StampSide::kNone) return;
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  if (*g_count >= g_capacity) return;
  StampRecord& r = g_stampsRing[*g_count];
  r.ns = static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
  r.icmpId = 0;
  r.icmpSeq = 0;
  r.point = static_cast<uint8_t>(p);
  r.side = static_cast<uint8_t>(side);
  r.frames = static_cast<uint8_t>(frames > 255 ? 255 : frames);
  Icmp(frame, len, &r);
  // The count last: a reader of the file sees only whole records.
  __atomic_store_n(g_count, *g_count + 1, __ATOMIC_RELEASE);
}

}  // namespace vxtap
