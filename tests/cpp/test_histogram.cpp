// Unit tests of npn::Histogram: geometry, queries, merge, settings, V2 codec
// and the decoder's robustness against truncated, corrupted and hostile input.
#include <doctest/doctest.h>
#include <zlib.h>

#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/errors.h"
#include "histogram/histogram.h"

using npn::DecodeError;
using npn::Histogram;
using npn::InvalidArgument;

namespace {

constexpr int64_t kMax64 = std::numeric_limits<int64_t>::max();

int64_t bucket_total(const Histogram& h) {
  int64_t total = 0;
  for (const auto& b : h.buckets()) total += b.count;
  return total;
}

bool same_buckets(const Histogram& a, const Histogram& b) {
  const auto x = a.buckets();
  const auto y = b.buckets();
  if (x.size() != y.size()) return false;
  for (size_t i = 0; i < x.size(); ++i) {
    if (x[i].lowest != y[i].lowest || x[i].highest_equivalent != y[i].highest_equivalent ||
        x[i].count != y[i].count) {
      return false;
    }
  }
  return true;
}

// ---- helpers that build V2 encodings by hand, to feed the decoder crafted input ----

void put_u32(std::string& s, uint32_t v) {
  for (int sh = 24; sh >= 0; sh -= 8) s.push_back(static_cast<char>((v >> sh) & 0xff));
}
void put_u64(std::string& s, uint64_t v) {
  for (int sh = 56; sh >= 0; sh -= 8) s.push_back(static_cast<char>((v >> sh) & 0xff));
}
void put_varint(std::string& s, int64_t value) {
  uint64_t zz = (static_cast<uint64_t>(value) << 1) ^ static_cast<uint64_t>(value >> 63);
  for (int i = 0; i < 8; ++i) {
    if (zz < 0x80) {
      s.push_back(static_cast<char>(zz));
      return;
    }
    s.push_back(static_cast<char>((zz & 0x7f) | 0x80));
    zz >>= 7;
  }
  s.push_back(static_cast<char>(zz));
}

struct RawHeader {
  uint32_t cookie = 0x1c849313;
  int64_t payload_len = -1;  // -1: the true length
  uint32_t normalizing_offset = 0;
  uint32_t digits = 3;
  uint64_t lowest = 1;
  uint64_t highest = 3'600'000'000'000;
};

std::string zlib_compress(const std::string& raw) {
  uLongf size = compressBound(static_cast<uLong>(raw.size()));
  std::string out(size, '\0');
  REQUIRE(compress2(reinterpret_cast<Bytef*>(out.data()), &size,
                    reinterpret_cast<const Bytef*>(raw.data()), static_cast<uLong>(raw.size()),
                    6) == Z_OK);
  out.resize(size);
  return out;
}

std::string wrap(const std::string& compressed, uint32_t cookie = 0x1c849314) {
  std::string out;
  put_u32(out, cookie);
  put_u32(out, static_cast<uint32_t>(compressed.size()));
  return out + compressed;
}

std::string crafted(const RawHeader& h, const std::vector<int64_t>& varints,
                    const std::string& extra = "") {
  std::string payload;
  for (const int64_t v : varints) put_varint(payload, v);
  payload += extra;
  std::string raw;
  put_u32(raw, h.cookie);
  put_u32(raw, static_cast<uint32_t>(h.payload_len < 0 ? payload.size() : h.payload_len));
  put_u32(raw, h.normalizing_offset);
  put_u32(raw, h.digits);
  put_u64(raw, h.lowest);
  put_u64(raw, h.highest);
  const double ratio = 1.0;
  uint64_t bits = 0;
  std::memcpy(&bits, &ratio, sizeof bits);
  put_u64(raw, bits);
  return wrap(zlib_compress(raw + payload));
}

Histogram sample_histogram() {
  Histogram h;
  std::mt19937_64 rng(42);
  std::lognormal_distribution<double> latency(std::log(2e6), 0.7);
  for (int i = 0; i < 2000; ++i) h.record(static_cast<int64_t>(latency(rng)));
  h.record(0);
  h.record(3);
  return h;
}

}  // namespace

TEST_CASE("geometry: unit resolution below 2 * 10^digits, then doubling bucket widths") {
  Histogram h(1, 3'600'000'000'000, 3);  // 2048 sub-buckets
  for (int64_t v : {0, 1, 2, 1000, 2047}) {
    CHECK(h.lowest_equivalent(v) == v);
    CHECK(h.highest_equivalent(v) == v);
  }
  CHECK(h.lowest_equivalent(2049) == 2048);
  CHECK(h.highest_equivalent(2048) == 2049);
  CHECK(h.lowest_equivalent(4097) == 4096);
  CHECK(h.highest_equivalent(4096) == 4099);
  CHECK(h.highest_equivalent(1'000'000) - h.lowest_equivalent(1'000'000) + 1 == 512);

  // Relative error bounded by the digits, everywhere in the range.
  for (int digits = 1; digits <= 5; ++digits) {
    Histogram g(1, 3'600'000'000'000, digits);
    double bound = 1.0;
    for (int i = 0; i < digits; ++i) bound /= 10;
    for (int64_t v = 1; v < 3'600'000'000'000; v = v * 3 + 1) {
      const double width = static_cast<double>(g.highest_equivalent(v) - g.lowest_equivalent(v));
      CHECK(width / static_cast<double>(v) <= bound);
      CHECK(g.lowest_equivalent(v) <= v);
      CHECK(g.highest_equivalent(v) >= v);
    }
  }

  // lowest = 1000 -> unit of 512: values below 512 are indistinguishable from 0.
  Histogram coarse(1000, 1'000'000'000, 2);
  CHECK(coarse.lowest_equivalent(511) == 0);
  CHECK(coarse.highest_equivalent(0) == 511);
  CHECK(coarse.lowest_equivalent(512) == 512);

  // The top bucket of a full-range histogram does not overflow.
  Histogram full(1, kMax64, 5);
  CHECK(full.highest_equivalent(kMax64) == kMax64);
  CHECK(full.lowest_equivalent(kMax64) < kMax64);
  full.record(kMax64);
  CHECK(full.max() == kMax64);
  CHECK(full.saturated_count() == 0);
}

TEST_CASE("empty histogram reports zeros") {
  Histogram h;
  CHECK(h.count() == 0);
  CHECK(h.min() == 0);
  CHECK(h.max() == 0);
  CHECK(h.mean() == 0.0);
  CHECK(h.stddev() == 0.0);
  CHECK(h.value_at_percentile(50) == 0);
  CHECK(h.buckets().empty());
}

TEST_CASE("exact percentiles, min, max, mean and stddev on known data") {
  Histogram h;
  for (int64_t v = 1; v <= 100; ++v) h.record(v);
  CHECK(h.count() == 100);
  CHECK(h.min() == 1);
  CHECK(h.max() == 100);
  CHECK(h.value_at_percentile(0) == 1);
  CHECK(h.value_at_percentile(1) == 1);
  CHECK(h.value_at_percentile(10) == 10);
  CHECK(h.value_at_percentile(50) == 50);
  CHECK(h.value_at_percentile(50.4) == 50);  // target count int(50.4 + 0.5) = 50
  CHECK(h.value_at_percentile(50.6) == 51);
  CHECK(h.value_at_percentile(99) == 99);
  CHECK(h.value_at_percentile(99.9) == 100);
  CHECK(h.value_at_percentile(100) == 100);
  CHECK(h.value_at_percentile(250) == 100);  // clamped
  CHECK(h.value_at_percentile(-3) == 1);     // clamped to 0
  CHECK(h.mean() == doctest::Approx(50.5).epsilon(1e-12));
  CHECK(h.stddev() == doctest::Approx(28.866070047722118).epsilon(1e-12));

  // Above unit resolution a percentile reports its bucket's highest equivalent value.
  Histogram g;
  for (int64_t v = 1; v <= 10000; ++v) g.record(v);
  CHECK(g.value_at_percentile(50) == g.highest_equivalent(5000));
  CHECK(g.value_at_percentile(50) == 5003);
  CHECK(g.value_at_percentile(0) == 1);
  CHECK(g.value_at_percentile(100) == g.highest_equivalent(10000));

  // record_n is the same as n records.
  Histogram a;
  Histogram b;
  a.record_n(777, 5);
  for (int i = 0; i < 5; ++i) b.record(777);
  CHECK(same_buckets(a, b));
  a.record_n(5, 0);
  a.record_n(5, -2);
  CHECK(a.count() == 5);
}

TEST_CASE("buckets list the non-empty buckets in order") {
  Histogram h;
  h.record(5);
  h.record(5);
  h.record(5000);
  h.record(3);
  const auto b = h.buckets();
  REQUIRE(b.size() == 3);
  CHECK(b[0].lowest == 3);
  CHECK(b[0].highest_equivalent == 3);
  CHECK(b[0].count == 1);
  CHECK(b[1].lowest == 5);
  CHECK(b[1].count == 2);
  CHECK(b[2].lowest == 5000);
  CHECK(b[2].highest_equivalent == 5003);
  CHECK(b[2].count == 1);
}

TEST_CASE("saturation clamps and counts, never drops") {
  Histogram h(1, 1'000'000, 3);
  h.record(-5);
  h.record(1'000'001);
  h.record(kMax64);
  h.record(500);
  CHECK(h.count() == 4);
  CHECK(h.saturated_count() == 3);
  CHECK(h.min() == 0);
  CHECK(h.max() == h.highest_equivalent(1'000'000));
  CHECK(h.value_at_percentile(100) == h.highest_equivalent(1'000'000));
  CHECK(bucket_total(h) == 4);
  h.reset();
  CHECK(h.count() == 0);
  CHECK(h.saturated_count() == 0);
  CHECK(h.max() == 0);
  CHECK(h.buckets().empty());
}

TEST_CASE("merge equals recording everything in one histogram") {
  Histogram a(1, 10'000'000, 2);
  Histogram b(1, 10'000'000, 2);
  Histogram all(1, 10'000'000, 2);
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<int64_t> dist(0, 20'000'000);
  for (int i = 0; i < 5000; ++i) {
    const int64_t v = dist(rng);
    (i % 3 == 0 ? a : b).record(v);
    all.record(v);
  }
  a.merge(b);
  CHECK(same_buckets(a, all));
  CHECK(a.count() == all.count());
  CHECK(a.saturated_count() == all.saturated_count());
  CHECK(a.min() == all.min());
  CHECK(a.max() == all.max());
  CHECK(a.value_at_percentile(99.9) == all.value_at_percentile(99.9));

  Histogram empty(1, 10'000'000, 2);
  a.merge(empty);
  CHECK(same_buckets(a, all));
  empty.merge(all);
  CHECK(same_buckets(empty, all));

  Histogram self(1, 1000, 1);
  self.record(10);
  self.merge(self);
  CHECK(self.count() == 2);
}

TEST_CASE("merge rejects different settings and names both") {
  Histogram a(1, 1'000'000, 3);
  Histogram b(1, 1'000'000, 2);
  try {
    a.merge(b);
    FAIL("merge of different settings did not throw");
  } catch (const InvalidArgument& e) {
    const std::string msg = e.what();
    CHECK(msg.find("significant_digits=3") != std::string::npos);
    CHECK(msg.find("significant_digits=2") != std::string::npos);
  }
  CHECK_THROWS_AS(a.merge(Histogram(2, 1'000'000, 3)), InvalidArgument);
  CHECK_THROWS_AS(a.merge(Histogram(1, 2'000'000, 3)), InvalidArgument);
}

TEST_CASE("merge that would overflow the int64 total throws and changes nothing") {
  Histogram a;
  a.record_n(1000, kMax64 / 2 + 1);
  Histogram b = a;
  CHECK_THROWS_AS(a.merge(b), InvalidArgument);
  CHECK_THROWS_AS(a.merge(a), InvalidArgument);
  CHECK(a.count() == kMax64 / 2 + 1);
  CHECK(bucket_total(a) == a.count());
  Histogram half;
  half.record_n(2000, kMax64 / 2);
  a.merge(half);  // exactly INT64_MAX fits
  CHECK(a.count() == kMax64);
  CHECK(bucket_total(a) == kMax64);
}

TEST_CASE("record_n cuts a count that would overflow the total instead of wrapping") {
  Histogram h;
  h.record_n(5, kMax64 - 10);
  h.record_n(7, 100);
  CHECK(h.count() == kMax64);
  CHECK(bucket_total(h) == kMax64);
  h.record(9);
  CHECK(h.count() == kMax64);
  CHECK(h.value_at_percentile(100) == 7);
}

TEST_CASE("copies, moves and reset keep every query consistent") {
  Histogram h(1, 3'600'000'000'000, 3);
  for (int64_t v : {3, 1'000, 123'456, 99'999'999}) h.record(v);
  Histogram copy = h;
  CHECK(same_buckets(copy, h));
  CHECK(copy.min() == h.min());
  CHECK(copy.max() == h.max());
  Histogram assigned(1, 10, 1);
  assigned = h;
  CHECK(same_buckets(assigned, h));
  CHECK(assigned.highest() == h.highest());
  Histogram moved = std::move(copy);
  CHECK(same_buckets(moved, h));
  CHECK(copy.count() == 0);  // NOLINT(bugprone-use-after-move): moved-from is empty
  CHECK(copy.buckets().empty());
  CHECK(copy.value_at_percentile(50) == 0);
  moved.reset();
  CHECK(moved.count() == 0);
  CHECK(moved.buckets().empty());
  moved.record(42);
  CHECK(moved.buckets().size() == 1);
  CHECK(bucket_total(moved) == 1);
}

TEST_CASE("constructor validates settings with messages naming argument and value") {
  CHECK_THROWS_WITH_AS(Histogram(1, 1000, 7), "significant_digits must be 1..5, got 7",
                       InvalidArgument);
  CHECK_THROWS_WITH_AS(Histogram(1, 1000, 0), "significant_digits must be 1..5, got 0",
                       InvalidArgument);
  CHECK_THROWS_WITH_AS(Histogram(0, 1000, 3), "lowest must be >= 1, got 0", InvalidArgument);
  CHECK_THROWS_WITH_AS(Histogram(-4, 1000, 3), "lowest must be >= 1, got -4", InvalidArgument);
  CHECK_THROWS_WITH_AS(Histogram(10, 19, 3), "highest must be >= 2 * lowest (lowest=10), got 19",
                       InvalidArgument);
  CHECK_THROWS_AS(Histogram(int64_t{1} << 58, kMax64, 5), InvalidArgument);
  CHECK_NOTHROW(Histogram(10, 20, 1));
  CHECK_NOTHROW(Histogram(int64_t{1} << 40, kMax64, 5));
}

TEST_CASE("encode/decode round trip keeps settings and counts") {
  struct Settings {
    int64_t lowest, highest;
    int digits;
  };
  for (const Settings s :
       {Settings{1, 3'600'000'000'000, 3}, Settings{1, 1000, 1}, Settings{1000, 100'000'000'000, 2},
        Settings{7, 1'000'000, 5}, Settings{1, kMax64, 4}}) {
    Histogram h(s.lowest, s.highest, s.digits);
    std::mt19937_64 rng(static_cast<uint64_t>(s.digits));
    std::uniform_int_distribution<int64_t> dist(0, s.highest);
    for (int i = 0; i < 3000; ++i) h.record(dist(rng) >> (i % 40));
    h.record_n(s.highest, 1'000'000'000'000);  // large counts use long varints

    for (const Histogram& d :
         {Histogram::decode(h.encode()), Histogram::decode_base64(h.encode_base64())}) {
      CHECK(d.same_settings(h));
      CHECK(same_buckets(d, h));
      CHECK(d.count() == h.count());
      CHECK(d.min() == h.min());
      CHECK(d.max() == h.max());
      CHECK(d.mean() == h.mean());
      CHECK(d.value_at_percentile(99.99) == h.value_at_percentile(99.99));
    }
  }
  // Counts near 2^62 need the 9-byte varint form, whose last byte carries 8 bits.
  Histogram huge(1, 1000, 2);
  huge.record_n(5, kMax64 / 2);
  huge.record_n(900, kMax64 / 4);
  const Histogram huge_back = Histogram::decode(huge.encode());
  CHECK(same_buckets(huge_back, huge));
  CHECK(huge_back.count() == kMax64 / 2 + kMax64 / 4);

  const Histogram empty(1, 5000, 2);
  const Histogram d = Histogram::decode(empty.encode());
  CHECK(d.same_settings(empty));
  CHECK(d.count() == 0);
  CHECK(d.max() == 0);
}

TEST_CASE("decodes a histogram encoded by the hdrhistogram Python package") {
  // HdrHistogram(1, 3600000000000, 3) with 0, 1, 5, 1000, 123456, 10**9 recorded.
  const Histogram h = Histogram::decode_base64(
      "HISTFAAAAC94nJNpmSzMwMDAxwABzFCaEch0M9ixgMH+A0SAiYmV6TA/0/48povnGZkAoy4ICg==");
  CHECK(h.lowest() == 1);
  CHECK(h.highest() == 3'600'000'000'000);
  CHECK(h.significant_digits() == 3);
  CHECK(h.count() == 6);
  const auto b = h.buckets();
  REQUIRE(b.size() == 6);
  const int64_t values[] = {0, 1, 5, 1000, 123456, 1'000'000'000};
  for (size_t i = 0; i < 6; ++i) {
    CHECK(b[i].lowest == h.lowest_equivalent(values[i]));
    CHECK(b[i].count == 1);
  }
  CHECK(h.max() == h.highest_equivalent(1'000'000'000));
  CHECK(h.min() == 0);
}

TEST_CASE("decoder accepts hand-built valid input") {
  RawHeader hdr;
  hdr.digits = 2;
  hdr.lowest = 1;
  hdr.highest = 100'000;
  // counts: [3, 0, 0, 0, 7, 0, 1]
  const Histogram h = Histogram::decode(crafted(hdr, {3, -3, 7, 0, 1}));
  CHECK(h.count() == 11);
  CHECK(h.min() == 0);
  CHECK(h.max() == 6);
  CHECK(h.value_at_percentile(50) == 4);
}

TEST_CASE("decoder rejects hostile and malformed input with DecodeError") {
  RawHeader ok;
  CHECK_NOTHROW(Histogram::decode(crafted(ok, {1, 2, 3})));

  auto rejects = [](const std::string& data, const char* fragment) {
    try {
      (void)Histogram::decode(data);
      FAIL("decoded without error, expected: " << fragment);
    } catch (const DecodeError& e) {
      CHECK_MESSAGE(std::string(e.what()).find(fragment) != std::string::npos, e.what());
    }
  };
  rejects("", "too short");
  rejects(std::string("\x1c\x84\x93\x14\x00\x00\x00", 7), "too short");
  rejects(wrap(zlib_compress("x"), 0x12345678), "cookie");
  {
    std::string bad_len = crafted(ok, {1});
    bad_len[7] = static_cast<char>(bad_len[7] + 1);
    rejects(bad_len, "length field");
  }
  RawHeader h = ok;
  h.cookie = 0x1c849301;  // V1 payload
  rejects(crafted(h, {1}), "cookie");
  h = ok;
  h.digits = 9;
  rejects(crafted(h, {1}), "invalid settings");
  h = ok;
  h.lowest = 0;
  rejects(crafted(h, {1}), "invalid settings");
  h = ok;
  h.lowest = 1000;
  h.highest = 1500;
  rejects(crafted(h, {1}), "invalid settings");
  h = ok;
  h.highest = ~uint64_t{0};
  rejects(crafted(h, {1}), "invalid settings");
  h = ok;
  h.normalizing_offset = 4;
  rejects(crafted(h, {1}), "normalizing");
  h = ok;
  h.payload_len = 0x7fffffff;  // would be a 2 GiB allocation
  rejects(crafted(h, {1}), "exceeds the maximum");
  h = ok;
  h.payload_len = 10;  // says 10, has 1
  rejects(crafted(h, {1}), "counts payload");
  h = ok;
  h.payload_len = 1;  // says 1, has 2: the stream goes on
  rejects(crafted(h, {1, 1}), "does not end");
  // More counts than the settings allow, directly and through a zero run.
  RawHeader tiny = ok;
  tiny.digits = 1;
  tiny.highest = 40;  // 2 buckets of 16 half-counts: 48 counts
  rejects(crafted(tiny, std::vector<int64_t>(49, 1)), "more than the 48 counts");
  CHECK_NOTHROW(Histogram::decode(crafted(tiny, std::vector<int64_t>(48, 1))));
  rejects(crafted(tiny, {1, -47, 1}), "more than the 48 counts");
  rejects(crafted(tiny, {1, -48}), "runs past");
  rejects(crafted(tiny, {std::numeric_limits<int64_t>::min()}), "zero-run");
  rejects(crafted(tiny, {kMax64, 1}), "overflows");
  rejects(crafted(tiny, {1}, std::string("\x80\x80", 2)), "inside a varint");
  // A zlib stream followed by junk.
  {
    std::string raw;
    put_u32(raw, 0x1c849313);
    rejects(wrap(zlib_compress(raw) + "junk"), "");
  }
  rejects(wrap(zlib_compress(std::string(12, '\0'))), "zlib stream ends inside the payload header");
  rejects(wrap("this is not zlib at all"), "zlib");
}

TEST_CASE("base64 decoder is strict") {
  const std::string text = sample_histogram().encode_base64();
  CHECK_NOTHROW(Histogram::decode_base64(text));
  CHECK_NOTHROW(Histogram::decode_base64(text.substr(0, 10) + "\n" + text.substr(10) + "\n"));
  CHECK_THROWS_AS(Histogram::decode_base64(""), DecodeError);
  CHECK_THROWS_AS(Histogram::decode_base64("===="), DecodeError);
  CHECK_THROWS_AS(Histogram::decode_base64(text.substr(0, text.size() - 1)), DecodeError);
  CHECK_THROWS_AS(Histogram::decode_base64(text + "A"), DecodeError);
  CHECK_THROWS_AS(Histogram::decode_base64("HIST*AAA"), DecodeError);
  CHECK_THROWS_AS(Histogram::decode_base64("QQ==QQ=="), DecodeError);
  CHECK_THROWS_AS(Histogram::decode_base64("Q=Q="), DecodeError);
  CHECK_THROWS_AS(Histogram::decode_base64(std::string("HIST\0AAA", 8)), DecodeError);
}

TEST_CASE("mutation fuzz: truncations and byte flips decode or throw DecodeError") {
  const Histogram original = sample_histogram();
  const std::string valid = original.encode();

  // Every strict prefix breaks the outer length field.
  for (size_t len = 0; len < valid.size(); ++len) {
    CHECK_THROWS_AS(Histogram::decode(std::string_view(valid).substr(0, len)), DecodeError);
  }

  auto try_decode = [](const std::string& data, int& decoded, int& rejected) {
    try {
      const Histogram h = Histogram::decode(data);
      ++decoded;
      CHECK(bucket_total(h) == h.count());
      CHECK(h.count() >= 0);
      (void)h.value_at_percentile(99.9);
      (void)h.encode();
    } catch (const DecodeError&) {
      ++rejected;
    }
  };

  // Outer bytes: flip every byte with several masks.
  int decoded = 0;
  int rejected = 0;
  for (size_t i = 0; i < valid.size(); ++i) {
    for (const unsigned mask : {0x01u, 0x80u, 0xffu}) {
      std::string m = valid;
      m[i] = static_cast<char>(static_cast<unsigned char>(m[i]) ^ mask);
      try_decode(m, decoded, rejected);
    }
  }
  CHECK(rejected > 0);

  // Inner bytes: mutate the decompressed V2 form and recompress, so the
  // mutations reach the header and varint parsing past zlib's checksum.
  std::vector<unsigned char> raw(1 << 20);
  uLongf raw_len = static_cast<uLongf>(raw.size());
  REQUIRE(uncompress(raw.data(), &raw_len, reinterpret_cast<const Bytef*>(valid.data() + 8),
                     static_cast<uLong>(valid.size() - 8)) == Z_OK);
  const std::string inner(reinterpret_cast<const char*>(raw.data()), raw_len);
  std::mt19937 rng(1234);
  decoded = 0;
  rejected = 0;
  for (size_t i = 0; i < inner.size(); ++i) {
    std::string m = inner;
    m[i] = static_cast<char>(rng());
    try_decode(wrap(zlib_compress(m)), decoded, rejected);
  }
  for (size_t len = 0; len < inner.size(); ++len) {
    try_decode(wrap(zlib_compress(inner.substr(0, len))), decoded, rejected);
  }
  for (int round = 0; round < 300; ++round) {
    std::string m = inner;
    const int flips = 1 + static_cast<int>(rng() % 8);
    for (int f = 0; f < flips; ++f) m[rng() % m.size()] = static_cast<char>(rng());
    try_decode(wrap(zlib_compress(m)), decoded, rejected);
  }
  CHECK(decoded > 0);
  CHECK(rejected > 0);
}

TEST_CASE("per-thread histograms merged at the end (the documented threading contract)") {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 20000;
  std::vector<Histogram> per_thread(kThreads);
  std::vector<std::thread> workers;
  for (int t = 0; t < kThreads; ++t) {
    workers.emplace_back([&per_thread, t] {
      std::mt19937_64 rng(static_cast<uint64_t>(t));
      std::uniform_int_distribution<int64_t> dist(0, 5'000'000);
      for (int i = 0; i < kPerThread; ++i) per_thread[static_cast<size_t>(t)].record(dist(rng));
    });
  }
  for (auto& w : workers) w.join();

  Histogram total;
  Histogram serial;
  for (int t = 0; t < kThreads; ++t) {
    total.merge(per_thread[static_cast<size_t>(t)]);
    std::mt19937_64 rng(static_cast<uint64_t>(t));
    std::uniform_int_distribution<int64_t> dist(0, 5'000'000);
    for (int i = 0; i < kPerThread; ++i) serial.record(dist(rng));
  }
  CHECK(total.count() == int64_t{kThreads} * kPerThread);
  CHECK(same_buckets(total, serial));
}
