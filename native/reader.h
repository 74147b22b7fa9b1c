// Reader: the event-loop-driven batch reader of a TAP fd or a UDP socket.
#pragma once

#include <sys/socket.h>
#include <netinet/in.h>
#include <uv.h>

#include <memory>
#include <vector>

#include "common.h"
#include "offload.h"

namespace vxtap {

class Reader : public Napi::ObjectWrap<Reader> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit Reader(const Napi::CallbackInfo& info);
  ~Reader() override;

 private:
  enum class Kind { kTap, kTapVnet, kTapVnetWhole, kUdp, kUdpGro };

  Napi::Value Stop(const Napi::CallbackInfo& info);
  Napi::Value GetTruncated(const Napi::CallbackInfo& info);
  Napi::Value GetActive(const Napi::CallbackInfo& info);
  Napi::Value GetOffload(const Napi::CallbackInfo& info);

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
  uint32_t FillTap(bool* more, int* err);
  enum class VnetRead { kFrame, kSkip, kStop };
  VnetRead ReadVnet(iovec* iov, VnetHdr* h, size_t* len, int* err);
  bool FinishPlain(uint8_t* slot, size_t len, const VnetHdr& h);
  uint32_t FillTapVnet(bool* more, int* err);
  uint32_t FillTapVnetWhole(bool* more, int* err);
  uint32_t EmitPending(uint32_t n);
  uint32_t FillUdpMsgs(bool* more, int* err);
  uint32_t SplitGro(uint32_t n);
  bool Deliver(uint32_t n);
  void PollFailed(int err);
  void Fail(int err, const char* syscall, bool fatal);
  void Halt();
  void Release();

  Kind kind_ = Kind::kTap;
  int fd_ = -1;
  bool active_ = false;
  bool refd_ = false;
  PollBox* box_ = nullptr;

  // Caller-owned memory, pinned by the references below while active.
  uint8_t* slab_ = nullptr;
  uint32_t slotSize_ = 0;
  uint32_t headroom_ = 0;
  uint32_t slots_ = 0;
  uint32_t* sizes_ = nullptr;
  uint32_t* addrs_ = nullptr;
  uint16_t* ports_ = nullptr;
  Napi::ObjectReference slabRef_, sizesRef_, addrsRef_, portsRef_, auxRef_, wholeRef_;
  Napi::FunctionReference onBatch_, onError_;
  std::unique_ptr<Napi::AsyncContext> ctx_;

  uint8_t spare_ = 0;  // the byte after a TAP slot (see FillTap)
  double truncated_ = 0;

  // tap-vnet only: the virtio_net_hdr of the last read, a scratch buffer a
  // GSO super-frame is assembled in, and the super-frame whose segments did
  // not all fit the last batch (pending_: segments pendingNext_.. are left).
  uint8_t vhdr_[kVnetHdrLen] = {};
  std::vector<uint8_t> scratch_;
  bool pending_ = false;
  uint32_t pendingNext_ = 0;
  TcpGso pendingGso_;
  double gsoFrames_ = 0;       // super-frames read
  double segments_ = 0;        // frames cut from them
  double csumCompleted_ = 0;   // NEEDS_CSUM frames (not GSO) completed
  double offloadDropped_ = 0;  // unparsable or unsupported vnet frames
  double whole_ = 0;           // tap-vnet-whole: super-frames delivered whole

  // tap-vnet-whole only: super-frames kept whole in the caller's aux buffer
  // (whole_[4i..4i+3] = their offset, length, MSS, segments for slot i; 0
  // segments for a plain frame), auxPos_ = the next free byte this batch.
  uint8_t* aux_ = nullptr;
  size_t auxSize_ = 0;
  size_t auxPos_ = 0;
  uint32_t* wholeTable_ = nullptr;

  // udp and udp-gro: recvmmsg into groMsgCount_ buffers of 64 KB each (a
  // GRO message holds many datagrams; a kernel vxlan peer's TSO
  // super-datagram up to 64 KB), then cut into slots. Messages
  // groNext_ .. groCount_-1 are not all delivered yet (from groOff_ in
  // groNext_, or its super-frame's segment superK_). The buffers are not
  // zeroed, so only the pages that datagrams reach are ever committed.
  std::unique_ptr<uint8_t[]> groBuf_;
  uint32_t groMsgCount_ = 0;
  uint32_t mtu_ = 0;     // the overlay's MTU (0: unknown): cuts super-datagrams (ParseVxlanTcpSuper)
  uint32_t superK_ = 0;  // the next segment of message groNext_'s super-frame (super_)
  TcpGso super_;
  std::vector<iovec> groIov_;
  std::vector<mmsghdr> groMsgs_;
  std::vector<sockaddr_in> groNames_;
  std::vector<uint8_t> groCtl_;
  std::vector<uint32_t> groSeg_;
  uint32_t groCount_ = 0, groNext_ = 0, groOff_ = 0;
};

}  // namespace vxtap
