#include "json/base64.h"

#include <array>
#include <cstdint>
#include <string>

#include "common/errors.h"

namespace npn {
namespace {

constexpr std::int8_t kInvalid = -1;
constexpr std::int8_t kWhitespace = -2;
constexpr std::int8_t kPad = -3;

constexpr std::array<std::int8_t, 256> make_table() {
  std::array<std::int8_t, 256> table{};
  for (auto& v : table) v = kInvalid;
  for (int i = 0; i < 26; ++i) {
    table['A' + i] = static_cast<std::int8_t>(i);
    table['a' + i] = static_cast<std::int8_t>(26 + i);
  }
  for (int i = 0; i < 10; ++i) table['0' + i] = static_cast<std::int8_t>(52 + i);
  table['+'] = 62;
  table['/'] = 63;
  for (unsigned char c : {' ', '\t', '\n', '\r', '\v', '\f'}) table[c] = kWhitespace;
  table['='] = kPad;
  return table;
}

constexpr std::array<std::int8_t, 256> kTable = make_table();

std::string describe(unsigned char c) {
  if (c >= 0x20 && c < 0x7f) return std::string("'") + static_cast<char>(c) + "'";
  static const char* kHex = "0123456789abcdef";
  return std::string("byte 0x") + kHex[c >> 4] + kHex[c & 15];
}

}  // namespace

std::size_t base64_decoded_bound(std::string_view text) { return text.size() / 4 * 3 + 3; }

std::size_t decode_base64(std::string_view text, unsigned char* out) {
  std::uint32_t bits = 0;  // the sextets of the current quantum
  int sextets = 0;         // how many of them (0-3; 4 completes the quantum)
  int pads = 0;            // '=' seen; only whitespace may follow the padding
  std::size_t written = 0;
  const auto* in = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t size = text.size();
  for (std::size_t i = 0; i < size; ++i) {
    // Whole quanta of 4 valid characters, the common case, in one step each.
    if (sextets == 0 && pads == 0) {
      while (i + 4 <= size) {
        const int a = kTable[in[i]], b = kTable[in[i + 1]], c = kTable[in[i + 2]],
                  d = kTable[in[i + 3]];
        if ((a | b | c | d) < 0) break;
        const auto quantum = static_cast<std::uint32_t>(a << 18 | b << 12 | c << 6 | d);
        out[written] = static_cast<unsigned char>(quantum >> 16);
        out[written + 1] = static_cast<unsigned char>(quantum >> 8);
        out[written + 2] = static_cast<unsigned char>(quantum);
        written += 3;
        i += 4;
      }
      if (i == size) break;
    }
    const auto c = in[i];
    const std::int8_t v = kTable[c];
    if (v >= 0) {
      if (pads > 0) {
        throw DecodeError("data after the padding at position " + std::to_string(i));
      }
      bits = (bits << 6) | static_cast<std::uint32_t>(v);
      if (++sextets == 4) {
        out[written++] = static_cast<unsigned char>(bits >> 16);
        out[written++] = static_cast<unsigned char>(bits >> 8);
        out[written++] = static_cast<unsigned char>(bits);
        bits = 0;
        sextets = 0;
      }
    } else if (v == kPad) {
      if (sextets < 2 || sextets + ++pads > 4) {
        throw DecodeError("misplaced padding '=' at position " + std::to_string(i));
      }
    } else if (v == kInvalid) {
      throw DecodeError("invalid character " + describe(c) + " at position " + std::to_string(i));
    }
  }
  if (sextets == 0) return written;
  if (sextets + pads != 4) {
    throw DecodeError("incorrect padding: " + std::to_string(sextets) +
                      " character(s) in the last group of 4");
  }
  if (sextets == 2) {
    out[written++] = static_cast<unsigned char>(bits >> 4);
  } else {
    out[written++] = static_cast<unsigned char>(bits >> 10);
    out[written++] = static_cast<unsigned char>(bits >> 2);
  }
  return written;
}

}  // namespace npn
