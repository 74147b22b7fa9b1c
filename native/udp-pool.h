// PoolSend: the pool send's request, bound once (pool-send.h names its
// slots; udp-pool.cc has the contract of send()).
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "super-frames.h"

namespace vxtap {

// The request's arrays, by address (pinned by the PoolSend that holds them).
struct PoolRequest {
  const int32_t* fds = nullptr;
  uint32_t poolSize = 0;
  uint8_t* slab = nullptr;
  size_t slabLen = 0;
  const uint32_t* starts = nullptr;
  const uint32_t* lens = nullptr;
  uint8_t* table = nullptr;
  size_t tableLen = 0;
  const int32_t* eps = nullptr;
  const uint16_t* srcPorts = nullptr;
  const int32_t* wholeOf = nullptr;
  int32_t* errOut = nullptr;
  int32_t* gsoOut = nullptr;
  int32_t* status = nullptr;
  const int32_t* scalars = nullptr;
  // Entries the list arrays hold (the smallest of their lengths): count's bound.
  uint32_t capacity = 0;
  bool hasWhole = false;
  const uint8_t* aux = nullptr;
  size_t auxLen = 0;
  SuperFrameTable whole;
};

class PoolSend : public Napi::ObjectWrap<PoolSend> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit PoolSend(const Napi::CallbackInfo& info);

 private:
  Napi::Value Send(const Napi::CallbackInfo& info);

  std::vector<Napi::ObjectReference> pins_;
  PoolRequest r_;
};

}  // namespace vxtap
