// The addon's exported functions (contracts in the .cc files, mirrored in
// src/io/native.ts).
#pragma once

#include "common.h"

namespace vxtap {

Napi::Value TapOpen(const Napi::CallbackInfo& info);
Napi::Value TapWrite(const Napi::CallbackInfo& info);
Napi::Value TapSetOffload(const Napi::CallbackInfo& info);
Napi::Value TapSegment(const Napi::CallbackInfo& info);
Napi::Value TapCoalesce(const Napi::CallbackInfo& info);
Napi::Value TapFinishPartial(const Napi::CallbackInfo& info);
Napi::Value VxlanSplitSuper(const Napi::CallbackInfo& info);
Napi::Value UdpOpen(const Napi::CallbackInfo& info);
Napi::Value RawUdpOpen(const Napi::CallbackInfo& info);
Napi::Value LocalPort(const Napi::CallbackInfo& info);
Napi::Value UdpSend(const Napi::CallbackInfo& info);

Napi::Value UdpOffload(const Napi::CallbackInfo& info);
Napi::Value Notify(const Napi::CallbackInfo& info);
Napi::Value NlOpen(const Napi::CallbackInfo& info);
Napi::Value NlTransact(const Napi::CallbackInfo& info);
Napi::Value NlTransactAsync(const Napi::CallbackInfo& info);

}  // namespace vxtap
