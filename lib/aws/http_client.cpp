// The HTTP(S) client under every AWS call: blocking calls over Beast, each connection with an
// io_context of its own so any thread can use any pooled connection.
#include "aws/http_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <map>
#include <mutex>
#include <optional>
#include <vector>

namespace spool::inline SPOOL_ABI_NAMESPACE::aws {
namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using sys_error = boost::system::error_code;
using steady = std::chrono::steady_clock;

constexpr auto slice = std::chrono::milliseconds(50);
constexpr std::size_t chunk_size = std::size_t{64} * 1024;
// Bodies read into memory (JSON, XML, error documents) are small; media goes to a body_writer.
constexpr std::size_t max_memory_body = 64ULL * 1024 * 1024;

struct target {
  bool tls = false;
  std::string host;  // without brackets
  std::string port;
  std::string path;  // path and query, as on the wire
  std::string key() const { return (tls ? "https://" : "http://") + host + ":" + port; }
};

error parse_target(std::string_view url, target& out) {
  auto bad = [&](std::string_view why) {
    return error(errc::invalid_argument, "the URL " + redact(url) + " is not valid: " + std::string(why));
  };
  if (url.starts_with("https://")) {
    out.tls = true;
    url.remove_prefix(8);
  } else if (url.starts_with("http://")) {
    url.remove_prefix(7);
  } else {
    return bad("only http:// and https:// are supported");
  }
  auto slash = url.find_first_of("/?");
  auto authority = url.substr(0, slash);
  out.path = slash == std::string_view::npos ? "/" : std::string(url.substr(slash));
  if (out.path.front() == '?') out.path.insert(0, "/");
  if (auto hash = out.path.find('#'); hash != std::string::npos) out.path.resize(hash);
  if (auto at = authority.rfind('@'); at != std::string_view::npos) authority.remove_prefix(at + 1);
  std::string_view host = authority, port;
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return bad("an unclosed '['");
    host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') return bad("junk after the address");
      port = authority.substr(close + 2);
    }
  } else if (auto colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty()) return bad("no host");
  int n = 0;
  if (!port.empty()) {
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), n);
    if (ec != std::errc{} || end != port.data() + port.size() || n <= 0 || n > 65535) return bad("a bad port");
  }
  out.host = std::string(host);
  out.port = port.empty() ? (out.tls ? "443" : "80") : std::string(port);
  return {};
}

// The Host header: the authority without a default port.
std::string host_header(const target& t) {
  std::string h = t.host.find(':') != std::string::npos ? "[" + t.host + "]" : t.host;
  if (t.port != (t.tls ? "443" : "80")) h += ":" + t.port;
  return h;
}

struct connection {
  asio::io_context ioc;
  tcp::resolver resolver{ioc};
  std::optional<ssl::stream<tcp::socket>> secure;
  std::optional<tcp::socket> plain;
  boost::beast::flat_buffer buffer;
  std::string verify_failure;
  bool reused = false;
  bool timed_out = false;  // an operation saw no progress for the idle timeout

  tcp::socket& socket() { return secure ? secure->next_layer() : *plain; }

  // Runs one asynchronous operation to completion in short slices, so `interrupt` and the idle
  // timeout stop it. A stopped or timed-out operation closes the socket: the connection is spent.
  template <class Start>
  error await(Start start, std::chrono::milliseconds timeout, const io::interrupt_check& interrupt,
              std::string_view doing, sys_error& result) {
    bool done = false;
    start([&](sys_error e) {
      done = true;
      result = e;
    });
    auto begun = steady::now();
    while (!done) {
      if (ioc.stopped()) ioc.restart();
      ioc.run_one_for(slice);
      if (done) break;
      error_code stop = interrupt ? interrupt() : error_code{};
      bool idle = steady::now() - begun > timeout;
      if (!stop && !idle) continue;
      resolver.cancel();
      sys_error ignored;
      socket().close(ignored);
      while (!done) {  // NOLINT(bugprone-infinite-loop): the aborted handler sets it
        if (ioc.stopped()) ioc.restart();
        ioc.run_one();
      }
      timed_out = !stop;
      if (stop)
        return {stop,
                stop == errc::cancelled ? std::string("cancelled") : "the deadline passed while " + std::string(doing)};
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count();
      return {errc::network, "no progress for " + std::to_string(ms) + " ms while " + std::string(doing)};
    }
    return {};
  }

  template <class F>
  auto with_stream(F&& f) {
    if (secure) return f(*secure);
    return f(*plain);
  }
};

}  // namespace

struct http_client::impl {
  http_options options;
  ssl::context tls{ssl::context::tls_client};
  error tls_setup;
  std::mutex mutex;
  std::map<std::string, std::vector<std::unique_ptr<connection>>> idle;
  std::atomic<int> opened{0};

  explicit impl(http_options o) : options(std::move(o)) {
    sys_error e;
    tls.set_options(ssl::context::default_workarounds | ssl::context::no_compression | ssl::context::no_sslv2 |
                        ssl::context::no_sslv3,
                    e);
    if (!e && SSL_CTX_set_min_proto_version(tls.native_handle(), TLS1_2_VERSION) != 1)
      tls_setup = {errc::internal, "cannot require TLS 1.2"};
    if (!e) tls.set_verify_mode(ssl::verify_peer, e);
    if (!e) {
      if (options.ca_file.empty())
        tls.set_default_verify_paths(e);
      else
        tls.load_verify_file(options.ca_file, e);
    }
    if (e) tls_setup = {errc::invalid_argument, "cannot set up TLS (certificate authorities): " + e.message()};
  }

  std::unique_ptr<connection> take(const std::string& key) {
    std::lock_guard lock(mutex);
    auto it = idle.find(key);
    if (it == idle.end() || it->second.empty()) return nullptr;
    auto c = std::move(it->second.back());
    it->second.pop_back();
    c->reused = true;
    return c;
  }

  void give_back(const std::string& key, std::unique_ptr<connection> c) {
    std::lock_guard lock(mutex);
    auto& list = idle[key];
    if (list.size() < options.max_idle_connections_per_host) list.push_back(std::move(c));
  }

  result<std::unique_ptr<connection>> open(const target& t, const io::interrupt_check& interrupt) {
    if (t.tls && tls_setup) return tls_setup;
    auto c = std::make_unique<connection>();
    if (t.tls)
      c->secure.emplace(c->ioc, tls);
    else
      c->plain.emplace(c->ioc);
    ++opened;
    std::string where = host_header(t);
    tcp::resolver::results_type found;
    sys_error e;
    auto stopped = c->await(
        [&](auto done) {
          c->resolver.async_resolve(t.host, t.port, tcp::resolver::numeric_service,
                                    [&found, done](sys_error r, tcp::resolver::results_type f) {
                                      found = std::move(f);
                                      done(r);
                                    });
        },
        options.connect_timeout, interrupt, "resolving " + where, e);
    if (stopped) return stopped;
    if (e) return error(errc::network, "cannot resolve " + t.host + ": " + e.message());
    stopped = c->await(
        [&](auto done) {
          asio::async_connect(c->socket(), found, [done](sys_error r, const tcp::endpoint&) { done(r); });
        },
        options.connect_timeout, interrupt, "connecting to " + where, e);
    if (stopped) return stopped;
    if (e) return error(errc::network, "cannot connect to " + where + ": " + e.message());
    sys_error ignored;
    c->socket().set_option(tcp::no_delay(true), ignored);
    if (!t.tls) return c;

    sys_error is_ip;
    asio::ip::make_address(t.host, is_ip);
    if (is_ip && !SSL_set_tlsext_host_name(c->secure->native_handle(), t.host.c_str()))
      return error(errc::internal, "cannot set the TLS server name");
    auto* raw = c.get();
    c->secure->set_verify_callback(
        [raw, check = ssl::host_name_verification(t.host), host = t.host](bool preverified, ssl::verify_context& ctx) {
          if (!preverified) {
            if (raw->verify_failure.empty())
              raw->verify_failure = X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.native_handle()));
            return false;
          }
          bool valid = check(preverified, ctx);
          if (!valid && raw->verify_failure.empty()) raw->verify_failure = "it is not valid for " + host;
          return valid;
        });
    stopped = c->await([&](auto done) { c->secure->async_handshake(ssl::stream_base::client, done); },
                       options.connect_timeout, interrupt, "the TLS handshake with " + where, e);
    if (stopped) return stopped;
    if (e) {
      if (!c->verify_failure.empty())
        return error(errc::protocol_not_allowed,
                     where + ": the server's certificate is not accepted: " + c->verify_failure);
      return error(errc::network, where + ": TLS handshake failed: " + e.message());
    }
    return c;
  }

  // One exchange on `c`. `sent_nothing` tells the caller whether a failure came before any byte of
  // the answer (a reused connection the server had closed: safe to try again on a fresh one).
  result<http_response> exchange(connection& c, const target& t, const http_request& request, const body_writer& writer,
                                 const io::interrupt_check& interrupt, bool& answered, bool& keep) {
    answered = keep = false;
    std::string where = host_header(t);
    http::request<http::empty_body> req;
    req.method_string(request.method);
    req.target(t.path);
    req.version(11);
    bool has_host = false;
    for (const auto& h : request.headers) {
      if (!find_header({h}, "Host").empty()) has_host = true;
      req.insert(h.name, h.value);
    }
    if (!has_host) req.set(http::field::host, host_header(t));
    std::int64_t length = request.stream ? request.stream->length : static_cast<std::int64_t>(request.body.size());
    if (length > 0 || request.method == "POST" || request.method == "PUT")
      req.set(http::field::content_length, std::to_string(length));
    http::request_serializer<http::empty_body> sr(req);
    sys_error e;
    auto stopped = c.await(
        [&](auto done) {
          c.with_stream(
              [&](auto& s) { http::async_write_header(s, sr, [done](sys_error r, std::size_t) { done(r); }); });
        },
        options.idle_timeout, interrupt, "sending a request to " + where, e);
    if (stopped) return stopped;
    if (e) return error(errc::network, "cannot send to " + where + ": " + e.message());

    auto write_raw = [&](const void* data, std::size_t n) -> error {
      sys_error we;
      auto s = c.await(
          [&](auto done) {
            c.with_stream([&](auto& st) {
              asio::async_write(st, asio::buffer(data, n), [done](sys_error r, std::size_t) { done(r); });
            });
          },
          options.idle_timeout, interrupt, "sending a body to " + where, we);
      if (s) return s;
      if (we) return {errc::network, "cannot send to " + where + ": " + we.message()};
      return {};
    };
    if (request.stream) {
      if (request.stream->rewind)
        if (auto r = request.stream->rewind()) return r;
      std::vector<std::byte> chunk(chunk_size);
      std::int64_t left = length;
      while (left > 0) {
        auto want = static_cast<std::size_t>(std::min<std::int64_t>(left, static_cast<std::int64_t>(chunk.size())));
        auto got = request.stream->read(std::span(chunk.data(), want));
        if (!got) return got.error();
        if (*got == 0) return error(errc::internal, "a request body ended " + std::to_string(left) + " bytes early");
        if (auto r = write_raw(chunk.data(), *got)) return r;
        left -= static_cast<std::int64_t>(*got);
      }
    } else if (!request.body.empty()) {
      if (auto r = write_raw(request.body.data(), request.body.size())) return r;
    }

    http::response_parser<http::buffer_body> parser;
    parser.body_limit(boost::none);
    parser.header_limit(64 * 1024);
    if (request.method == "HEAD") parser.skip(true);
    stopped = c.await(
        [&](auto done) {
          c.with_stream([&](auto& s) {
            http::async_read_header(s, c.buffer, parser, [done](sys_error r, std::size_t) { done(r); });
          });
        },
        options.idle_timeout, interrupt, "waiting for " + where, e);
    if (stopped) return stopped;
    if (e) return error(errc::network, "no answer from " + where + ": " + e.message());
    answered = true;

    http_response out;
    const auto& head = parser.get();
    out.status = static_cast<int>(head.result_int());
    for (const auto& f : head) out.headers.push_back({std::string(f.name_string()), std::string(f.value())});
    bool to_writer = writer && out.status >= 200 && out.status < 300;
    std::vector<char> buf(chunk_size);
    while (!parser.is_done()) {
      parser.get().body().data = buf.data();
      parser.get().body().size = buf.size();
      stopped = c.await(
          [&](auto done) {
            c.with_stream(
                [&](auto& s) { http::async_read(s, c.buffer, parser, [done](sys_error r, std::size_t) { done(r); }); });
          },
          options.idle_timeout, interrupt, "reading from " + where, e);
      if (stopped) return stopped;
      if (e == http::error::need_buffer) e = {};
      if (e) return error(errc::network, "the answer from " + where + " was cut: " + e.message());
      std::size_t n = buf.size() - parser.get().body().size;
      if (n == 0) continue;
      if (to_writer) {
        if (auto r = writer(std::span(reinterpret_cast<const std::byte*>(buf.data()), n))) return r;
      } else {
        if (out.body.size() + n > max_memory_body)
          return error(errc::network, "the answer from " + where + " is larger than expected");
        out.body.append(buf.data(), n);
      }
    }
    keep = parser.keep_alive();
    return out;
  }
};

http_client::http_client(http_options options) : impl_(std::make_unique<impl>(std::move(options))) {}
http_client::~http_client() = default;

int http_client::connections_opened() const noexcept { return impl_->opened.load(); }

result<http_response> http_client::send(const http_request& request, const body_writer& writer,
                                        const io::interrupt_check& interrupt) {
  target t;
  if (auto e = parse_target(request.url, t)) return e;
  if (interrupt)
    if (auto stop = interrupt()) return error(stop, stop == errc::cancelled ? "cancelled" : "the deadline passed");
  auto key = t.key();
  for (int attempt = 0;; ++attempt) {
    auto c = impl_->take(key);
    if (!c) {
      auto fresh = impl_->open(t, interrupt);
      if (!fresh) return fresh.error();
      c = std::move(*fresh);
    }
    bool answered = false, keep = false;
    auto r = impl_->exchange(*c, t, request, writer, interrupt, answered, keep);
    // A pooled connection the server closed while idle fails before any answer: once more, fresh.
    // A server that took the request and stays silent is no closed connection: that is the caller's.
    if (!r && c->reused && !answered && !c->timed_out && r.error().code == errc::network && attempt == 0) continue;
    if (r && keep) impl_->give_back(key, std::move(c));
    return r;
  }
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::aws
