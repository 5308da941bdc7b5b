// The engine's exception types; the bindings translate them to Python ones.
#pragma once

#include <stdexcept>
#include <string>

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

}  // namespace npn
