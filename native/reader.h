// Reader: the event-loop-driven batch reader of a TAP fd or a UDP socket.
// The shell only: the poll, the batch loop, errors and the crossing into JS.
// How frames are read is a ReadSource's business (read-source.h).
#pragma once

#include <uv.h>

#include <memory>
#include <vector>

#include "common.h"
#include "read-source.h"
#include "stamps.h"

namespace vxtap {

class Reader : public Napi::ObjectWrap<Reader> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit Reader(const Napi::CallbackInfo& info);
  ~Reader() override;

 private:
  Napi::Value Stop(const Napi::CallbackInfo& info);
  Napi::Value GetTruncated(const Napi::CallbackInfo& info);
  Napi::Value GetActive(const Napi::CallbackInfo& info);
  Napi::Value GetOffload(const Napi::CallbackInfo& info);
  Napi::Value GetCounters(const Napi::CallbackInfo& info);

  // The poll handle and its async cleanup hook. It lives on the heap and
  // outlives the Reader until libuv has closed it: see Halt / OnClosed.
  struct PollBox {
    uv_poll_t poll;
    napi_async_cleanup_hook_handle hook = nullptr;
    Reader* owner = nullptr;
    bool closing = false;
  };

  static void OnPoll(uv_poll_t* handle, int status, int events);
  static void OnClosed(uv_handle_t* handle);
  static void OnEnvTeardown(napi_async_cleanup_hook_handle hook, void* arg);
  static void CloseBox(PollBox* box);

  void Drain();
  bool Deliver(uint32_t n);
  void PollFailed(int err);
  void Fail(int err, const char* syscall, bool fatal);
  void Halt();
  void Release();

  int fd_ = -1;
  bool active_ = false;
  bool refd_ = false;
  PollBox* box_ = nullptr;
  // Lives as long as the Reader, so that its counters outlive stop().
  std::unique_ptr<ReadSource> source_;
  // For the stamps (stamps.h) only: which side this is, and where slot 0's frame lies.
  StampSide side_ = StampSide::kTap;
  ReadBatch batch_;

  // Pins on the caller's memory (slab, sizes, and what the source needs)
  // while active; the source holds raw pointers into it.
  std::vector<Napi::ObjectReference> pins_;
  Napi::FunctionReference onBatch_, onError_;
  std::unique_ptr<Napi::AsyncContext> ctx_;
};

}  // namespace vxtap
