#include "served/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <mutex>
#include <regex>
#include <utility>

#include "common/clock.h"

namespace npn {
namespace {

// curl_global_init, once per process, before the first handle.
void init_libcurl() {
  static std::once_flag once;
  static CURLcode code = CURLE_OK;
  std::call_once(once, [] { code = curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (code != CURLE_OK) {
    throw HttpError(std::string("libcurl cannot start: ") + curl_easy_strerror(code));
  }
}

CURL* handle(void* curl) { return static_cast<CURL*>(curl); }

template <class T>
void set(CURL* curl, CURLoption option, T value) {
  const CURLcode code = curl_easy_setopt(curl, option, value);
  if (code != CURLE_OK) throw HttpError(std::string("libcurl: ") + curl_easy_strerror(code));
}

bool iequals_prefix(std::string_view line, std::string_view name) {
  if (line.size() <= name.size() || line[name.size()] != ':') return false;
  for (size_t i = 0; i < name.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(line[i])) !=
        std::tolower(static_cast<unsigned char>(name[i]))) {
      return false;
    }
  }
  return true;
}

std::string_view trimmed(std::string_view text) {
  const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!text.empty() && space(text.front())) text.remove_prefix(1);
  while (!text.empty() && space(text.back())) text.remove_suffix(1);
  return text;
}

// The length of the valid UTF-8 sequence at text[i], or 0 when it is not one (RFC 3629:
// no overlong forms, no surrogates, nothing beyond U+10FFFF).
size_t utf8_length(std::string_view text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char b = byte(i);
  if (b < 0x80) return 1;
  size_t n = 0;
  unsigned char low = 0x80, high = 0xBF;  // the range of the second byte
  if (b >= 0xC2 && b <= 0xDF) {
    n = 2;
  } else if (b >= 0xE0 && b <= 0xEF) {
    n = 3;
    if (b == 0xE0) low = 0xA0;
    if (b == 0xED) high = 0x9F;
  } else if (b >= 0xF0 && b <= 0xF4) {
    n = 4;
    if (b == 0xF0) low = 0x90;
    if (b == 0xF4) high = 0x8F;
  } else {
    return 0;
  }
  if (i + n > text.size() || byte(i + 1) < low || byte(i + 1) > high) return 0;
  for (size_t k = 2; k < n; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
  }
  return n;
}

}  // namespace

void HttpResponse::clear() noexcept {
  status = 0;
  headers.clear();
  body.clear();
  chunks.clear();
}

std::optional<std::string_view> HttpResponse::header(std::string_view name) const {
  std::optional<std::string_view> found;
  std::string_view rest = headers;
  while (!rest.empty()) {
    const size_t end = rest.find('\n');
    const std::string_view line = rest.substr(0, end);
    if (iequals_prefix(line, name)) found = trimmed(line.substr(name.size() + 1));
    if (end == std::string_view::npos) break;
    rest.remove_prefix(end + 1);
  }
  return found;
}

std::string HttpResponse::failure() const {
  constexpr size_t kQuotedBytes = 160;
  const std::string text = printable_text(body, kQuotedBytes);
  return "HTTP " + std::to_string(status) + (text.empty() ? "" : ": " + text);
}

HttpRequest::HttpRequest(const HttpOptions& options, std::string url,
                         std::optional<std::string> body, const std::vector<std::string>& headers)
    : url_(std::move(url)), body_(body.value_or(std::string())), post_(body.has_value()) {
  std::vector<std::string> lines = options.headers;
  lines.insert(lines.end(), headers.begin(), headers.end());
  if (post_) lines.emplace_back("Expect:");  // no 100-continue round trip for large bodies
  for (const std::string& line : lines) {
    curl_slist* grown = curl_slist_append(headers_, line.c_str());
    if (grown == nullptr) {
      curl_slist_free_all(headers_);
      throw std::bad_alloc();
    }
    headers_ = grown;
  }
}

HttpRequest::~HttpRequest() { curl_slist_free_all(headers_); }

HttpRequest::HttpRequest(HttpRequest&& other) noexcept
    : url_(std::move(other.url_)),
      body_(std::move(other.body_)),
      post_(other.post_),
      headers_(std::exchange(other.headers_, nullptr)) {}

HttpRequest& HttpRequest::operator=(HttpRequest&& other) noexcept {
  if (this != &other) {
    curl_slist_free_all(headers_);
    url_ = std::move(other.url_);
    body_ = std::move(other.body_);
    post_ = other.post_;
    headers_ = std::exchange(other.headers_, nullptr);
  }
  return *this;
}

HttpConnection::HttpConnection(const HttpOptions& options)
    : error_(std::make_unique<char[]>(CURL_ERROR_SIZE)) {
  init_libcurl();
  CURL* curl = curl_easy_init();
  if (curl == nullptr) throw HttpError("libcurl cannot make a connection handle");
  curl_ = curl;
  try {
    set(curl, CURLOPT_NOSIGNAL, 1L);
    set(curl, CURLOPT_ERRORBUFFER, error_.get());
    set(curl, CURLOPT_CONNECTTIMEOUT_MS,
        static_cast<long>(std::max<int64_t>(1, options.connect_timeout_ms)));
    if (options.request_timeout_ms > 0) {
      set(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(options.request_timeout_ms));
    }
#if LIBCURL_VERSION_NUM >= 0x075500
    set(curl, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    set(curl, CURLOPT_PROTOCOLS, static_cast<long>(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    set(curl, CURLOPT_FOLLOWLOCATION, 0L);  // traffic goes to the URL given, nowhere else
    set(curl, CURLOPT_SSL_VERIFYPEER, options.verify_peer ? 1L : 0L);
    set(curl, CURLOPT_SSL_VERIFYHOST, options.verify_peer ? 2L : 0L);
    if (!options.ca_file.empty()) set(curl, CURLOPT_CAINFO, options.ca_file.c_str());
    if (!options.cert_file.empty()) set(curl, CURLOPT_SSLCERT, options.cert_file.c_str());
    if (!options.key_file.empty()) set(curl, CURLOPT_SSLKEY, options.key_file.c_str());
    set(curl, CURLOPT_WRITEFUNCTION, &HttpConnection::on_body);
    set(curl, CURLOPT_WRITEDATA, static_cast<void*>(this));
    set(curl, CURLOPT_HEADERFUNCTION, &HttpConnection::on_header);
    set(curl, CURLOPT_HEADERDATA, static_cast<void*>(this));
  } catch (...) {
    close();
    throw;
  }
}

HttpConnection::~HttpConnection() { close(); }

void HttpConnection::close() noexcept {
  if (curl_ != nullptr) curl_easy_cleanup(handle(curl_));
  curl_ = nullptr;
}

size_t HttpConnection::on_body(char* data, size_t size, size_t count, void* self) {
  const int64_t at = now_ns();  // first: the stamp is the arrival, not the copy
  auto& connection = *static_cast<HttpConnection*>(self);
  HttpResponse& response = *connection.response_;
  response.body.append(data, size * count);
  if (connection.stamp_) response.chunks.push_back(HttpChunk{at, response.body.size()});
  return size * count;
}

size_t HttpConnection::on_header(char* data, size_t size, size_t count, void* self) {
  HttpResponse& response = *static_cast<HttpConnection*>(self)->response_;
  const std::string_view line(data, size * count);
  if (line.substr(0, 5) == "HTTP/") response.headers.clear();  // a new block (after 1xx)
  response.headers.append(line);
  return size * count;
}

void HttpConnection::perform(const HttpRequest& request, HttpResponse& response, bool stamp) {
  if (curl_ == nullptr) throw HttpError("the connection is closed");
  CURL* curl = handle(curl_);
  response.clear();
  response_ = &response;
  stamp_ = stamp;
  error_[0] = '\0';
  set(curl, CURLOPT_URL, request.url().c_str());
  set(curl, CURLOPT_HTTPHEADER, request.header_list());
  if (request.post()) {
    set(curl, CURLOPT_POSTFIELDS, request.body().data());
    set(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body().size()));
  } else {
    set(curl, CURLOPT_HTTPGET, 1L);
  }
  const CURLcode code = curl_easy_perform(curl);
  response_ = nullptr;
  if (code != CURLE_OK) {
    throw HttpError(stable_reason(error_[0] != '\0' ? error_.get() : curl_easy_strerror(code)));
  }
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
}

std::string stable_reason(std::string_view text) {
  static const std::regex varying(
      R"( after \d+ (?:ms|milliseconds)| with \d+ (?:out of -?\d+ )?bytes received)");
  return std::regex_replace(std::string(text), varying, "");
}

std::string printable_text(std::string_view bytes, size_t max_bytes) {
  bytes = bytes.substr(0, max_bytes);
  std::string out;
  out.reserve(bytes.size());
  for (size_t i = 0; i < bytes.size();) {
    const size_t n = utf8_length(bytes, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";  // U+FFFD
      ++i;
    } else {
      out.append(bytes.substr(i, n));
      i += n;
    }
  }
  return std::string(trimmed(out));
}

}  // namespace npn
