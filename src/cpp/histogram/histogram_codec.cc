// HdrHistogram V2 encoding: the interchange format of HdrHistogram (Java, C,
// Python, Go, ...). Every decoder check below exists because the input may be
// truncated, corrupted or hostile: each failure throws DecodeError, nothing
// reads out of bounds, and allocation is bounded by the header's settings.
//
// Compressed form (all integers big-endian):
//   u32 cookie 0x1c849304 | 0x10   u32 length of what follows   zlib stream
// The zlib stream inflates to the uncompressed V2 form:
//   u32 cookie 0x1c849303 | 0x10   u32 payload length   u32 normalizing index offset
//   u32 significant digits   u64 lowest   u64 highest   f64 int-to-double ratio (1.0)
//   payload: counts[0..n) as ZigZag LEB128 varints (at most 9 bytes; the 9th
//   byte carries 8 bits); a negative number -k stands for k zero counts.
#include <zlib.h>

#include <climits>
#include <cstdio>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>

#include "common/errors.h"
#include "histogram/histogram.h"

namespace npn {
namespace {

constexpr uint32_t kEncodingCookieBase = 0x1c849303;
constexpr uint32_t kCompressedCookieBase = 0x1c849304;
constexpr uint32_t kCookieWordSizeBits = 0x10;  // "TLZE" marker, as written by HdrHistogram
constexpr size_t kOuterHeaderSize = 8;
constexpr size_t kPayloadHeaderSize = 40;
constexpr size_t kMaxVarintBytes = 9;

uint32_t cookie_base(uint32_t cookie) { return cookie & ~uint32_t{0xf0}; }

void put_u32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((v >> shift) & 0xff));
}

void put_u64(std::string& out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((v >> shift) & 0xff));
}

uint32_t get_u32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

uint64_t get_u64(const unsigned char* p) {
  return (uint64_t{get_u32(p)} << 32) | uint64_t{get_u32(p + 4)};
}

void put_varint(std::string& out, int64_t value) {
  uint64_t zz = (static_cast<uint64_t>(value) << 1) ^ static_cast<uint64_t>(value >> 63);
  for (size_t i = 0; i < kMaxVarintBytes - 1; ++i) {
    if (zz < 0x80) {
      out.push_back(static_cast<char>(zz));
      return;
    }
    out.push_back(static_cast<char>((zz & 0x7f) | 0x80));
    zz >>= 7;
  }
  out.push_back(static_cast<char>(zz));  // 9th byte: the remaining 8 bits
}

// Reads one varint from [*pos, end); false if the input ends inside it.
bool get_varint(const unsigned char*& pos, const unsigned char* end, int64_t& value) {
  uint64_t zz = 0;
  for (size_t i = 0; i < kMaxVarintBytes; ++i) {
    if (pos == end) return false;
    const uint64_t byte = *pos++;
    if (i == kMaxVarintBytes - 1) {
      zz |= byte << 56;
      break;
    }
    zz |= (byte & 0x7f) << (7 * i);
    if ((byte & 0x80) == 0) break;
  }
  value = static_cast<int64_t>(zz >> 1) ^ -static_cast<int64_t>(zz & 1);
  return true;
}

std::string deflate_all(const std::string& raw) {
  uLongf size = compressBound(static_cast<uLong>(raw.size()));
  std::string out(size, '\0');
  const int rc = compress2(reinterpret_cast<Bytef*>(out.data()), &size,
                           reinterpret_cast<const Bytef*>(raw.data()),
                           static_cast<uLong>(raw.size()), Z_DEFAULT_COMPRESSION);
  if (rc != Z_OK) throw std::runtime_error("zlib compress2 failed: " + std::to_string(rc));
  out.resize(size);
  return out;
}

// Streaming inflater that hands out exactly the number of bytes asked for, so
// a hostile stream can never make us allocate more than the header allows.
class Inflater {
 public:
  Inflater(const unsigned char* data, size_t size) {
    std::memset(&zs_, 0, sizeof zs_);
    if (size > std::numeric_limits<uInt>::max()) throw DecodeError("compressed data too large");
    if (inflateInit(&zs_) != Z_OK) throw DecodeError("zlib inflateInit failed");
    zs_.next_in = const_cast<Bytef*>(data);
    zs_.avail_in = static_cast<uInt>(size);
  }
  ~Inflater() { inflateEnd(&zs_); }
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;

  // Fills out[0..n) or throws; `what` names the part for the message.
  void read(unsigned char* out, size_t n, const char* what) {
    zs_.next_out = out;
    zs_.avail_out = static_cast<uInt>(n);
    while (zs_.avail_out > 0) {
      if (ended_) throw DecodeError(std::string("zlib stream ends inside the ") + what);
      const int rc = inflate(&zs_, Z_NO_FLUSH);
      if (rc == Z_STREAM_END) {
        ended_ = true;
      } else if (rc == Z_BUF_ERROR) {
        throw DecodeError(std::string("compressed data truncated inside the ") + what);
      } else if (rc != Z_OK) {
        throw DecodeError(std::string("corrupt zlib stream in the ") + what + ": " +
                          (zs_.msg ? zs_.msg : ("error " + std::to_string(rc)).c_str()));
      } else if (zs_.avail_in == 0 && zs_.avail_out > 0) {
        throw DecodeError(std::string("compressed data truncated inside the ") + what);
      }
    }
  }

  // After the payload: the zlib stream must end exactly here, with no input left.
  void expect_end() {
    if (!ended_) {
      unsigned char extra = 0;
      zs_.next_out = &extra;
      zs_.avail_out = 1;
      const int rc = inflate(&zs_, Z_NO_FLUSH);
      if (rc != Z_STREAM_END || zs_.avail_out == 0) {
        throw DecodeError(
            "zlib stream does not end after the header's payload length (corrupt or truncated)");
      }
    }
    if (zs_.avail_in != 0) throw DecodeError("trailing bytes after the zlib stream");
  }

 private:
  z_stream zs_;
  bool ended_ = false;
};

constexpr char kBase64Alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

}  // namespace

std::string Histogram::encode() const {
  std::string raw;
  const size_t used = total_count_ == 0 ? 0 : static_cast<size_t>(counts_index(max_value_)) + 1;
  raw.reserve(kPayloadHeaderSize + used * 2);
  put_u32(raw, kEncodingCookieBase | kCookieWordSizeBits);
  put_u32(raw, 0);  // payload length, patched below
  put_u32(raw, 0);  // normalizing index offset
  put_u32(raw, static_cast<uint32_t>(digits_));
  put_u64(raw, static_cast<uint64_t>(lowest_));
  put_u64(raw, static_cast<uint64_t>(highest_));
  double ratio = 1.0;
  uint64_t ratio_bits = 0;
  std::memcpy(&ratio_bits, &ratio, sizeof ratio);
  put_u64(raw, ratio_bits);

  for (size_t i = 0; i < used;) {
    if (counts_[i] != 0) {
      put_varint(raw, counts_[i]);
      ++i;
      continue;
    }
    size_t run = 1;
    while (i + run < used && counts_[i + run] == 0) ++run;
    put_varint(raw, run == 1 ? 0 : -static_cast<int64_t>(run));
    i += run;
  }
  const size_t payload_len = raw.size() - kPayloadHeaderSize;
  for (int b = 0; b < 4; ++b) {
    raw[4 + b] = static_cast<char>((payload_len >> (24 - 8 * b)) & 0xff);
  }

  const std::string compressed = deflate_all(raw);
  std::string out;
  out.reserve(kOuterHeaderSize + compressed.size());
  put_u32(out, kCompressedCookieBase | kCookieWordSizeBits);
  put_u32(out, static_cast<uint32_t>(compressed.size()));
  out += compressed;
  return out;
}

Histogram Histogram::decode(std::string_view compressed) {
  const auto* data = reinterpret_cast<const unsigned char*>(compressed.data());
  const size_t size = compressed.size();
  if (size < kOuterHeaderSize) {
    throw DecodeError("encoded histogram too short: " + std::to_string(size) +
                      " bytes, need at least 8");
  }
  const uint32_t outer_cookie = get_u32(data);
  if (cookie_base(outer_cookie) != kCompressedCookieBase) {
    char hex[16];
    std::snprintf(hex, sizeof hex, "0x%08x", outer_cookie);
    throw DecodeError(std::string("not a V2 compressed HdrHistogram: cookie ") + hex +
                      ", expected 0x1c849304");
  }
  const uint32_t length = get_u32(data + 4);
  if (length != size - kOuterHeaderSize) {
    throw DecodeError("compressed length field says " + std::to_string(length) + " bytes but " +
                      std::to_string(size - kOuterHeaderSize) + " follow");
  }

  Inflater inflater(data + kOuterHeaderSize, size - kOuterHeaderSize);
  unsigned char header[kPayloadHeaderSize];
  inflater.read(header, sizeof header, "payload header");

  const uint32_t cookie = get_u32(header);
  if (cookie_base(cookie) != kEncodingCookieBase) {
    char hex[16];
    std::snprintf(hex, sizeof hex, "0x%08x", cookie);
    throw DecodeError(std::string("not a V2 HdrHistogram payload: cookie ") + hex +
                      ", expected 0x1c849303");
  }
  const uint32_t payload_len = get_u32(header + 4);
  const uint32_t normalizing_offset = get_u32(header + 8);
  const uint32_t digits = get_u32(header + 12);
  const uint64_t lowest = get_u64(header + 16);
  const uint64_t highest = get_u64(header + 24);
  if (normalizing_offset != 0) {
    throw DecodeError("unsupported normalizing index offset " + std::to_string(normalizing_offset));
  }
  if (digits < 1 || digits > 5 || lowest < 1 || lowest > uint64_t{INT64_MAX} ||
      highest > uint64_t{INT64_MAX}) {
    throw DecodeError("invalid settings in header: lowest=" + std::to_string(lowest) +
                      ", highest=" + std::to_string(highest) +
                      ", significant_digits=" + std::to_string(digits));
  }
  Histogram h = [&] {
    try {
      return Histogram(static_cast<int64_t>(lowest), static_cast<int64_t>(highest),
                       static_cast<int>(digits));
    } catch (const InvalidArgument& e) {
      throw DecodeError(std::string("invalid settings in header: ") + e.what());
    }
  }();

  const size_t counts_len = h.counts_.size();
  if (payload_len > counts_len * kMaxVarintBytes) {
    throw DecodeError("payload length " + std::to_string(payload_len) + " exceeds the maximum " +
                      std::to_string(counts_len * kMaxVarintBytes) + " for these settings");
  }
  std::string payload(payload_len, '\0');
  inflater.read(reinterpret_cast<unsigned char*>(payload.data()), payload_len, "counts payload");
  inflater.expect_end();

  const auto* pos = reinterpret_cast<const unsigned char*>(payload.data());
  const unsigned char* const end = pos + payload.size();
  size_t index = 0;
  int64_t total = 0;
  int64_t min_index = -1;
  int64_t max_index = -1;
  while (pos != end) {
    int64_t value = 0;
    if (!get_varint(pos, end, value)) throw DecodeError("counts payload ends inside a varint");
    if (value < 0) {
      if (value == INT64_MIN) throw DecodeError("invalid zero-run length in counts payload");
      const uint64_t run = static_cast<uint64_t>(-value);
      if (run > counts_len - index) {
        throw DecodeError("counts payload runs past the " + std::to_string(counts_len) +
                          " counts these settings allow");
      }
      index += run;
      continue;
    }
    if (index >= counts_len) {
      throw DecodeError("counts payload holds more than the " + std::to_string(counts_len) +
                        " counts these settings allow");
    }
    if (value > 0) {
      if (value > INT64_MAX - total) throw DecodeError("total count overflows int64");
      total += value;
      if (min_index < 0) min_index = static_cast<int64_t>(index);
      max_index = static_cast<int64_t>(index);
      h.counts_[index] = value;
    }
    ++index;
  }
  h.total_count_ = total;
  if (total > 0) {
    h.min_value_ = h.value_from_index(static_cast<int32_t>(min_index));
    h.max_value_ = h.value_from_index(static_cast<int32_t>(max_index));
  }
  return h;
}

std::string Histogram::encode_base64() const {
  const std::string raw = encode();
  std::string out;
  out.reserve((raw.size() + 2) / 3 * 4);
  const auto* p = reinterpret_cast<const unsigned char*>(raw.data());
  size_t i = 0;
  for (; i + 3 <= raw.size(); i += 3) {
    const uint32_t v = (uint32_t{p[i]} << 16) | (uint32_t{p[i + 1]} << 8) | p[i + 2];
    out.push_back(kBase64Alphabet[(v >> 18) & 63]);
    out.push_back(kBase64Alphabet[(v >> 12) & 63]);
    out.push_back(kBase64Alphabet[(v >> 6) & 63]);
    out.push_back(kBase64Alphabet[v & 63]);
  }
  const size_t rest = raw.size() - i;
  if (rest > 0) {
    uint32_t v = uint32_t{p[i]} << 16;
    if (rest == 2) v |= uint32_t{p[i + 1]} << 8;
    out.push_back(kBase64Alphabet[(v >> 18) & 63]);
    out.push_back(kBase64Alphabet[(v >> 12) & 63]);
    out.push_back(rest == 2 ? kBase64Alphabet[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

Histogram Histogram::decode_base64(std::string_view text) {
  // Strict RFC 4648 base64 with padding; ASCII whitespace (line wrapping) is skipped.
  std::string raw;
  raw.reserve(text.size() / 4 * 3);
  uint32_t acc = 0;
  int sextets = 0;
  int padding = 0;
  for (const char ch : text) {
    if (ch == ' ' || ch == '\n' || ch == '\r' || ch == '\t') continue;
    int v = -1;
    if (ch >= 'A' && ch <= 'Z')
      v = ch - 'A';
    else if (ch >= 'a' && ch <= 'z')
      v = ch - 'a' + 26;
    else if (ch >= '0' && ch <= '9')
      v = ch - '0' + 52;
    else if (ch == '+')
      v = 62;
    else if (ch == '/')
      v = 63;
    else if (ch == '=') {
      if (sextets < 2 || padding >= 2) throw DecodeError("misplaced '=' padding in base64 text");
      ++padding;
      v = 0;
    } else {
      throw DecodeError("invalid base64 character (code " +
                        std::to_string(static_cast<unsigned char>(ch)) + ")");
    }
    if (padding > 0 && ch != '=') throw DecodeError("base64 data after '=' padding");
    acc = (acc << 6) | static_cast<uint32_t>(v);
    if (++sextets == 4) {
      raw.push_back(static_cast<char>((acc >> 16) & 0xff));
      if (padding < 2) raw.push_back(static_cast<char>((acc >> 8) & 0xff));
      if (padding < 1) raw.push_back(static_cast<char>(acc & 0xff));
      acc = 0;
      sextets = 0;
      if (padding > 0) padding = 3;  // nothing may follow a padded group
    }
  }
  if (sextets != 0) throw DecodeError("base64 text length is not a multiple of 4");
  if (raw.empty()) throw DecodeError("empty base64 text");
  return decode(raw);
}

}  // namespace npn
