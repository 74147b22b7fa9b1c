// Shared helpers of the vxtap addon: errno errors and argument checks.
//
// Build mode: C++ exceptions on (node-addon-api's `node_addon_api_except`),
// so a failed check is `throw Napi::Error`, turned into a JS exception at the
// N-API boundary. Nothing here runs per frame.
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>

namespace vxtap {

// The errno's symbolic name ("EBUSY"); "ERRNO_<n>" when glibc has none.
std::string ErrnoName(int err);

// An Error with `code` = errno name, `errno` = number (positive), `syscall`,
// and the message "<what>: <description> (<NAME>)", for example
// "TUNSETIFF vxtap0: Device or resource busy (EBUSY)".
Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall, const std::string& what);

// Errors that mean the file descriptor itself is unusable (closed, detached,
// not a socket, bad memory). A write/send that gets one of these throws; any
// other errno is blamed on the one frame, which is skipped and counted.
bool IsFdFatal(int err);

// Argument helpers: throw TypeError / RangeError with the argument's name.
int32_t ArgFd(const Napi::CallbackInfo& info, size_t i);
uint32_t ArgU32(const Napi::CallbackInfo& info, size_t i, const char* name);
std::string ArgString(const Napi::CallbackInfo& info, size_t i, const char* name);
Napi::Buffer<uint8_t> ArgBuffer(const Napi::CallbackInfo& info, size_t i, const char* name);
Napi::Uint32Array ArgU32Array(const Napi::CallbackInfo& info, size_t i, const char* name, size_t minLen);
Napi::Uint16Array ArgU16Array(const Napi::CallbackInfo& info, size_t i, const char* name, size_t minLen);
Napi::Int32Array ArgI32Array(const Napi::CallbackInfo& info, size_t i, const char* name, size_t minLen);

// Parses a dotted quad into network-order bytes; throws TypeError otherwise.
uint32_t ParseIpv4(Napi::Env env, const std::string& text, const char* name);

// Throws RangeError unless every span starts[k] .. starts[k] + lens[k] (k < count) lies in a slab of slabLen bytes.
void CheckSpans(Napi::Env env, size_t slabLen, const uint32_t* starts, const uint32_t* lens, uint32_t count);

// Throws RangeError unless every eps[k] (k < count) names one of the
// tableLen / kEpRecord records of an endpoint table (endpoints.h), and
// that record holds an address (AF_INET or AF_INET6): sending to a
// released index is the caller's bug, not the kernel's refusal.
void CheckEndpoints(Napi::Env env, const uint8_t* table, size_t tableLen, const int32_t* eps, uint32_t count);

// The optional `errOut` argument i: an Int32Array of length >= 2, or nullptr
// when absent. Checked before any I/O so a bad argument never follows a send.
int32_t* ArgErrOut(const Napi::CallbackInfo& info, size_t i);

// Per-entry results of a batched write/send (SendList.status in src/io/port.ts):
// status[k] = 0 when entry k went out, else the errno that kept it out: the
// kernel's refusal of that entry, or, for every entry from the one where the
// queue was full (EAGAIN/ENOBUFS) or the fd broke, that errno (not tried).
// A count says how many went out, not which: a refused entry can sit before
// sent ones. ArgStatus reads the optional argument i (an Int32Array of length
// >= count, checked before any I/O), or nullptr when absent.
int32_t* ArgStatus(const Napi::CallbackInfo& info, size_t i, uint32_t count);
// status[from .. from + n) = value; nothing when status is nullptr. Inline: it runs per write.
inline void MarkStatus(int32_t* status, uint32_t from, uint32_t n, int32_t value) {
  if (status == nullptr) return;
  for (uint32_t i = 0; i < n; i++) status[from + i] = value;
}

}  // namespace vxtap
