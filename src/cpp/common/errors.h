// The engine's exception types; the bindings translate them to Python ones.
#pragma once

#include <new>
#include <stdexcept>
#include <string>
#include <utility>

namespace npn {

// A caller passed a bad setting or value (-> ValueError).
class InvalidArgument : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// Encoded histogram data that cannot be decoded (-> ValueError).
class DecodeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The memory a run needs is not available (-> MemoryError with this message).
class OutOfMemory : public std::bad_alloc {
 public:
  explicit OutOfMemory(std::string message) : message_(std::move(message)) {}
  const char* what() const noexcept override { return message_.c_str(); }

 private:
  std::string message_;
};

}  // namespace npn
