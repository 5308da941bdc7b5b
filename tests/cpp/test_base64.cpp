#include <doctest/doctest.h>

#include <string>
#include <string_view>

#include "common/errors.h"
#include "json/base64.h"

namespace {

std::string decode(std::string_view text) {
  std::string out(npn::base64_decoded_bound(text), '\0');
  out.resize(npn::decode_base64(text, reinterpret_cast<unsigned char*>(out.data())));
  return out;
}

std::string error_of(std::string_view text) {
  try {
    decode(text);
  } catch (const npn::DecodeError& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("base64 decodes RFC 4648's test vectors") {
  CHECK(decode("") == "");
  CHECK(decode("Zg==") == "f");
  CHECK(decode("Zm8=") == "fo");
  CHECK(decode("Zm9v") == "foo");
  CHECK(decode("Zm9vYg==") == "foob");
  CHECK(decode("Zm9vYmE=") == "fooba");
  CHECK(decode("Zm9vYmFy") == "foobar");
  CHECK(decode("+/+/") == "\xfb\xff\xbf");
}

TEST_CASE("base64 skips whitespace anywhere, padding included") {
  CHECK(decode(" Zm9v\nYmE\t=\r\n") == "fooba");
  CHECK(decode("Zg=\n=") == "f");
}

TEST_CASE("base64 names the bad character, its position, or the padding problem") {
  CHECK(error_of("Zm9v!") == "invalid character '!' at position 4");
  CHECK(error_of("Zm\x80v") == "invalid character byte 0x80 at position 2");
  CHECK(error_of("Zm9") == "incorrect padding: 3 character(s) in the last group of 4");
  CHECK(error_of("Z===") == "misplaced padding '=' at position 1");
  CHECK(error_of("Zm9v=") == "misplaced padding '=' at position 4");
  CHECK(error_of("Zg==Zg==") == "data after the padding at position 4");
}
