// HTTP exchanges over libcurl: requests prepared once, and keep-alive connections that
// send them, stamping each piece of a streamed answer as libcurl hands it over.
//
// libcurl does the wire (HTTP/1.1, chunked bodies, keep-alive, TLS, its re-send of a
// request on a kept-alive connection found closed); nothing here frames HTTP itself.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

struct curl_slist;

namespace npn {

// How to reach a server, common to every request to it (perf_analyzer's options).
struct HttpOptions {
  std::vector<std::string> headers;  // "Name: value" lines sent with every request
  int64_t connect_timeout_ms = 5000;
  int64_t request_timeout_ms = 0;  // a whole exchange; 0: no limit
  bool verify_peer = true;         // https: the certificate and the host name it carries
  std::string ca_file;             // https: a CA bundle (empty: the system's)
  std::string cert_file;           // https: a client certificate (empty: none)
  std::string key_file;            // https: its private key (empty: none)
};

// One request, prepared once and sent any number of times: the URL, the body (POSTed;
// none: GET) and every header line. Immutable, so any number of threads may send it.
class HttpRequest {
 public:
  HttpRequest(const HttpOptions& options, std::string url, std::optional<std::string> body,
              const std::vector<std::string>& headers = {});
  ~HttpRequest();
  HttpRequest(HttpRequest&& other) noexcept;
  HttpRequest& operator=(HttpRequest&& other) noexcept;
  HttpRequest(const HttpRequest&) = delete;
  HttpRequest& operator=(const HttpRequest&) = delete;

  const std::string& url() const noexcept { return url_; }
  bool post() const noexcept { return post_; }
  const std::string& body() const noexcept { return body_; }
  curl_slist* header_list() const noexcept { return headers_; }

 private:
  std::string url_;
  std::string body_;
  bool post_ = false;
  curl_slist* headers_ = nullptr;
};

// A piece of an answer's body as libcurl handed it over: when (the engine's clock, ns)
// and where the body stood after it (bytes).
struct HttpChunk {
  int64_t at_ns;
  size_t end;
};

// One exchange's answer. Reused request after request (its buffers keep their memory).
struct HttpResponse {
  long status = 0;
  std::string headers;            // the last header block, lines as received
  std::string body;               // transfer encoding removed
  std::vector<HttpChunk> chunks;  // when the exchange was stamped

  void clear() noexcept;
  // The value of the last header called `name` (any case), or nothing.
  std::optional<std::string_view> header(std::string_view name) const;
  // "HTTP 503: <the start of the body>", valid UTF-8: a reason for a failed request.
  std::string failure() const;
};

// The exchange did not complete (no connection, a reset, a timeout, a TLS failure): what()
// is libcurl's message without the figures that vary from try to try, so that equal
// failures count under one reason.
class HttpError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One keep-alive libcurl connection (an easy handle), reused request after request; no
// redirects are followed, only http and https are spoken. Used by one thread at a time.
class HttpConnection {
 public:
  explicit HttpConnection(const HttpOptions& options);  // throws HttpError
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  // Sends `request` and fills `response`; with `stamp`, each piece of the body is
  // stamped on arrival (HttpResponse::chunks). Throws HttpError when the exchange did
  // not complete; any HTTP status is an answer.
  void perform(const HttpRequest& request, HttpResponse& response, bool stamp = false);
  // Closes the connection; perform() then throws HttpError. Idempotent.
  void close() noexcept;

 private:
  static size_t on_body(char* data, size_t size, size_t count, void* self);
  static size_t on_header(char* data, size_t size, size_t count, void* self);

  void* curl_ = nullptr;
  HttpResponse* response_ = nullptr;  // the answer being received
  bool stamp_ = false;
  std::unique_ptr<char[]> error_;  // libcurl's message of the last failure
};

// `text` without the parts of libcurl's messages that vary from try to try (" after 3
// ms", " with 12 bytes received", " with 3 out of 100 bytes received").
std::string stable_reason(std::string_view text);

// The first max_bytes of `bytes` as valid UTF-8 (each byte that is not part of a
// character as U+FFFD), without surrounding white space: body text quoted in a reason.
std::string printable_text(std::string_view bytes, size_t max_bytes);

}  // namespace npn
