#include "common.h"
#include "endpoints.h"

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>

namespace vxtap {

std::string ErrnoName(int err) {
  const char* name = strerrorname_np(err);  // glibc >= 2.32
  return name != nullptr ? std::string(name) : "ERRNO_" + std::to_string(err);
}

Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall, const std::string& what) {
  const char* desc = strerrordesc_np(err);  // thread-safe, unlike strerror
  std::string code = ErrnoName(err);
  std::string msg = what + ": " + (desc != nullptr ? desc : "Unknown error") + " (" + code + ")";
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("code", Napi::String::New(env, code));
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("syscall", Napi::String::New(env, syscall));
  return e;
}

bool IsFdFatal(int err) {
  switch (err) {
    case EBADF:
    case EBADFD:
    case ENOTSOCK:
    case EFAULT:
    case ENODEV:
    case ENXIO:
    case ENOTCONN:
    case EDESTADDRREQ:
    case EOPNOTSUPP:
      return true;
    default:
      return false;
  }
}

int32_t ArgFd(const Napi::CallbackInfo& info, size_t i) {
  if (!info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), "fd must be a number");
  double d = info[i].As<Napi::Number>().DoubleValue();
  if (!(d >= 0 && d <= INT32_MAX) || d != static_cast<double>(static_cast<int32_t>(d))) {
    throw Napi::RangeError::New(info.Env(), "fd must be a non-negative integer");
  }
  return static_cast<int32_t>(d);
}

uint32_t ArgU32(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (!info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a number");
  double d = info[i].As<Napi::Number>().DoubleValue();
  if (!(d >= 0 && d <= UINT32_MAX) || d != static_cast<double>(static_cast<uint32_t>(d))) {
    throw Napi::RangeError::New(info.Env(), std::string(name) + " must be an integer in 0 .. 2^32-1");
  }
  return static_cast<uint32_t>(d);
}

std::string ArgString(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (!info[i].IsString()) throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a string");
  return info[i].As<Napi::String>().Utf8Value();
}

Napi::Buffer<uint8_t> ArgBuffer(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (!info[i].IsBuffer()) throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a Buffer");
  return info[i].As<Napi::Buffer<uint8_t>>();
}

static Napi::TypedArray ArgTyped(const Napi::CallbackInfo& info, size_t i, const char* name, napi_typedarray_type type,
                                 const char* typeName, size_t minLen) {
  if (!info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != type) {
    throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a " + typeName);
  }
  Napi::TypedArray a = info[i].As<Napi::TypedArray>();
  if (a.ElementLength() < minLen) {
    throw Napi::RangeError::New(info.Env(), std::string(name) + " has " + std::to_string(a.ElementLength()) +
                                                " elements, needs " + std::to_string(minLen));
  }
  return a;
}

Napi::Uint32Array ArgU32Array(const Napi::CallbackInfo& info, size_t i, const char* name, size_t minLen) {
  return ArgTyped(info, i, name, napi_uint32_array, "Uint32Array", minLen).As<Napi::Uint32Array>();
}

Napi::Uint16Array ArgU16Array(const Napi::CallbackInfo& info, size_t i, const char* name, size_t minLen) {
  return ArgTyped(info, i, name, napi_uint16_array, "Uint16Array", minLen).As<Napi::Uint16Array>();
}

Napi::Int32Array ArgI32Array(const Napi::CallbackInfo& info, size_t i, const char* name, size_t minLen) {
  return ArgTyped(info, i, name, napi_int32_array, "Int32Array", minLen).As<Napi::Int32Array>();
}

uint32_t ParseIpv4(Napi::Env env, const std::string& text, const char* name) {
  in_addr a{};
  if (inet_pton(AF_INET, text.c_str(), &a) != 1) {
    throw Napi::TypeError::New(env, std::string(name) + " is not an IPv4 address: \"" + text + "\"");
  }
  return a.s_addr;
}

void CheckSpans(Napi::Env env, size_t slabLen, const uint32_t* starts, const uint32_t* lens, uint32_t count) {
  for (uint32_t k = 0; k < count; k++) {
    if (static_cast<uint64_t>(starts[k]) + lens[k] > slabLen) {
      throw Napi::RangeError::New(env, "span " + std::to_string(k) + " (" + std::to_string(starts[k]) + " + " +
                                           std::to_string(lens[k]) + ") is outside the " + std::to_string(slabLen) +
                                           "-byte slab");
    }
  }
}

void CheckEndpoints(Napi::Env env, const uint8_t* table, size_t tableLen, const int32_t* eps, uint32_t count) {
  const size_t n = tableLen / kEpRecord;
  for (uint32_t k = 0; k < count; k++) {
    if (eps[k] < 0 || static_cast<size_t>(eps[k]) >= n) {
      throw Napi::RangeError::New(env, "eps[" + std::to_string(k) + "] = " + std::to_string(eps[k]) + " names no record of the " +
                                           std::to_string(n) + "-entry endpoint table");
    }
    if (EndpointView::NameLenOf(table + static_cast<size_t>(eps[k]) * kEpRecord) == 0) {
      throw Napi::RangeError::New(env, "eps[" + std::to_string(k) + "] = " + std::to_string(eps[k]) + " names an empty record");
    }
  }
}

int32_t* ArgErrOut(const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() <= i || info[i].IsUndefined() || info[i].IsNull()) return nullptr;
  if (!info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array ||
      info[i].As<Napi::TypedArray>().ElementLength() < 2) {
    throw Napi::TypeError::New(info.Env(), "errOut must be an Int32Array of length >= 2");
  }
  return info[i].As<Napi::Int32Array>().Data();
}

int32_t* ArgStatus(const Napi::CallbackInfo& info, size_t i, uint32_t count) {
  if (info.Length() <= i || info[i].IsUndefined() || info[i].IsNull()) return nullptr;
  if (!info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array ||
      info[i].As<Napi::TypedArray>().ElementLength() < count) {
    throw Napi::TypeError::New(info.Env(), "status must be an Int32Array of length >= count");
  }
  return info[i].As<Napi::Int32Array>().Data();
}

}  // namespace vxtap
