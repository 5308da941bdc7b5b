// Standard base64 decoding (RFC 4648 alphabet "A-Za-z0-9+/", '=' padding) for the
// b64 tensors of input data files: one table lookup per character, ASCII
// whitespace skipped (JSON writers wrap long strings), everything else strict.
#pragma once

#include <cstddef>
#include <string_view>

namespace npn {

// An upper bound on the bytes `text` decodes to, to size the output buffer.
std::size_t base64_decoded_bound(std::string_view text);

// Decodes `text` into `out` (at least base64_decoded_bound(text) bytes) and returns
// the number of bytes written. Throws DecodeError naming the offending character
// and its position, or the padding problem.
std::size_t decode_base64(std::string_view text, unsigned char* out);

}  // namespace npn
