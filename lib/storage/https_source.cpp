#include "storage/https_source.hpp"

#include <spool/version.hpp>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <charconv>
#include <optional>

#include "storage/address_policy.hpp"

namespace spool::inline SPOOL_ABI_NAMESPACE::storage {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using sys_error = boost::system::error_code;

namespace {

using clock = std::chrono::steady_clock;

// How often the stop predicate is asked while waiting on the network.
constexpr auto slice = std::chrono::milliseconds(20);
// Forward seeks up to this far read through the open body instead of starting a new request
// (which, mid-body, also costs a new connection).
constexpr std::int64_t discard_limit = std::int64_t{512} * 1024;

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// One absolute https URL, taken apart for connecting and for messages.
struct location {
  std::string url;   // as given (with its query: it is sent, never shown)
  std::string host;  // decoded; IPv6 without brackets
  std::uint16_t port = 443;
  std::string target;  // origin-form request target: path and query
  std::string host_header;
  std::string shown;                    // redact_url(url)
  std::optional<asio::ip::address> ip;  // the host, when it is an IP literal

  std::string authority() const { return host + ":" + std::to_string(port); }
};

// Parses `url`; the scheme must be https. Returns an empty string, or why not.
std::string parse_location(const std::string& url, location& out) {
  auto u = boost::urls::parse_uri(url);
  if (!u) return "it is not a valid URL";
  if (!iequals(u->scheme(), "https")) return "only https is allowed";
  location l;
  l.url = url;
  l.shown = redact_url(url);
  switch (u->host_type()) {
    case boost::urls::host_type::ipv4:
      l.ip = asio::ip::address_v4(u->host_ipv4_address().to_bytes());
      l.host = l.ip->to_string();
      l.host_header = l.host;
      break;
    case boost::urls::host_type::ipv6:
      l.ip = asio::ip::address_v6(u->host_ipv6_address().to_bytes());
      l.host = l.ip->to_string();
      l.host_header = "[" + l.host + "]";
      break;
    case boost::urls::host_type::name:
      l.host = lower(u->host_name());
      l.host_header = l.host;
      break;
    default: return "its host is not a name or an IP address";
  }
  if (l.host.empty()) return "it names no host";
  if (u->has_port()) {
    auto p = u->port();
    unsigned value = 0;
    auto [end, err] = std::from_chars(p.data(), p.data() + p.size(), value);
    if (err != std::errc{} || end != p.data() + p.size() || value == 0 || value > 65535) return "its port is not valid";
    l.port = static_cast<std::uint16_t>(value);
    if (l.port != 443) l.host_header += ":" + std::to_string(l.port);
  }
  l.target = u->encoded_path().empty() ? "/" : std::string(u->encoded_path());
  if (u->has_query()) l.target += "?" + std::string(u->encoded_query());
  out = std::move(l);
  return {};
}

bool host_allowed(const std::vector<std::string>& allowed, const location& l) {
  return std::any_of(allowed.begin(), allowed.end(), [&](std::string_view h) {
    if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
    if (l.ip) {  // compare addresses, so "::FFFF:127.0.0.1" and "::ffff:7f00:1" are one host
      sys_error ec;
      auto a = asio::ip::make_address(std::string(h), ec);
      return !ec && a == *l.ip;
    }
    return iequals(h, l.host);
  });
}

// "bytes START-END/TOTAL" or "bytes */TOTAL"; TOTAL may be "*". Missing parts are -1.
bool parse_content_range(std::string_view v, std::int64_t& start, std::int64_t& total) {
  start = total = -1;
  if (v.substr(0, 6) != "bytes ") return false;
  v.remove_prefix(6);
  auto slash = v.find('/');
  if (slash == std::string_view::npos) return false;
  auto range = v.substr(0, slash), size = v.substr(slash + 1);
  auto number = [](std::string_view s, std::int64_t& out) {
    auto [end, err] = std::from_chars(s.data(), s.data() + s.size(), out);
    return err == std::errc{} && end == s.data() + s.size() && out >= 0;
  };
  if (size != "*" && !number(size, total)) return false;
  if (range == "*") return true;
  auto dash = range.find('-');
  std::int64_t last = -1;
  return dash != std::string_view::npos && number(range.substr(0, dash), start) &&
         number(range.substr(dash + 1), last) && last >= start;
}

struct connection {
  ssl::stream<tcp::socket> stream;
  boost::beast::flat_buffer buffer;
  std::optional<http::response_parser<http::buffer_body>> parser;
  std::string authority;
  bool reusable = false;  // a whole response was read and the server keeps the connection open

  connection(asio::io_context& ioc, ssl::context& tls) : stream(ioc, tls) {}
};

}  // namespace

struct https_source::impl {
  https_settings settings;
  location loc;
  asio::io_context ioc;
  ssl::context tls{ssl::context::tls_client};
  tcp::resolver resolver{ioc};
  std::unique_ptr<connection> conn;
  std::string verify_failure;

  error_code ec;
  std::string detail;
  std::int64_t size = -1;
  std::int64_t pos = 0;         // where the next read starts
  std::int64_t stream_pos = 0;  // offset of the next body byte on `conn`
  bool body_open = false;       // `conn` is inside a response body
  bool ended = false;           // the last body ran to the resource's end, at stream_pos
  bool range_ok = false;
  bool opened = false;
  int connections = 0;
  int requests = 0;
  std::vector<std::uint8_t> scratch;

  bool fail(error_code e, const std::string& what) {
    if (!ec) {
      ec = e;
      detail = what;
    }
    conn.reset();
    body_open = false;
    return false;
  }
  bool fail_at(error_code e, const std::string& what) { return fail(e, loc.shown + ": " + what); }

  // The caller's stop request (cancelled, deadline_exceeded), if any.
  error_code stop_requested() const { return settings.should_stop ? settings.should_stop() : error_code{}; }

  bool fail_stopped(error_code stop) {
    return fail(stop, stop == errc::cancelled ? std::string("cancelled")
                                              : "the job's deadline passed while reading " + loc.shown);
  }

  // Runs one asynchronous operation to completion on the private io_context, in short slices so a
  // cancel, the deadline or the idle timeout stop it promptly. `start(done)` initiates it; the
  // operation's handler calls done(error). Returns false (failed) when stopped.
  template <class Start>
  bool await(Start start, sys_error& result, const char* doing) {
    if (ec) return false;
    if (auto stop = stop_requested()) return fail_stopped(stop);
    bool done = false;
    start([&](sys_error e) {
      done = true;
      result = e;
    });
    auto begun = clock::now();
    while (!done) {
      if (ioc.stopped()) ioc.restart();
      ioc.run_one_for(slice);
      if (done) break;
      auto stop = stop_requested();
      bool idle = clock::now() - begun > settings.idle_timeout;
      if (!stop && !idle) continue;
      // Close the socket so the pending handler runs (aborted) while everything it refers to lives.
      resolver.cancel();
      if (conn) {
        sys_error ignored;
        conn->stream.lowest_layer().close(ignored);
      }
      // `done` is set by the aborted handler, which run_one() runs.
      while (!done) {  // NOLINT(bugprone-infinite-loop)
        if (ioc.stopped()) ioc.restart();
        ioc.run_one();
      }
      if (stop) return fail_stopped(stop);
      auto secs = std::chrono::duration_cast<std::chrono::seconds>(settings.idle_timeout).count();
      return fail_at(errc::network, "no progress for " + std::to_string(secs) + " s while " + doing);
    }
    return true;
  }

  bool prepare_tls() {
    sys_error e;
    tls.set_options(ssl::context::default_workarounds | ssl::context::no_compression, e);
    if (!e) {
      if (SSL_CTX_set_min_proto_version(tls.native_handle(), TLS1_2_VERSION) != 1)
        return fail(errc::internal, "cannot require TLS 1.2");
      tls.set_verify_mode(ssl::verify_peer, e);
    }
    if (e) return fail(errc::internal, "cannot set up TLS: " + e.message());
    if (!settings.ca_file.empty()) {
      tls.load_verify_file(settings.ca_file, e);
      if (e) return fail(errc::invalid_argument, "cannot load https_ca_file " + settings.ca_file + ": " + e.message());
    } else {
      tls.set_default_verify_paths(e);
      if (e) return fail(errc::internal, "cannot load the system's certificate authorities: " + e.message());
    }
    return true;
  }

  // The first URL and every redirect target pass the same checks before anything is sent.
  bool check_location(const std::string& url, location& out, const std::string& context) {
    std::string why = parse_location(url, out);
    if (!why.empty()) return fail(errc::protocol_not_allowed, context + redact_url(url) + " is refused: " + why);
    if (!host_allowed(settings.allowed_hosts, out))
      return fail(errc::protocol_not_allowed,
                  context + out.shown + " is refused: host '" + out.host + "' is not on the https allow-list");
    return true;
  }

  // Resolves the host once, drops refused addresses and connects only to what was checked.
  bool connect() {
    conn.reset();
    body_open = false;
    std::vector<tcp::endpoint> candidates;
    if (loc.ip) {
      candidates.emplace_back(*loc.ip, loc.port);
    } else {
      tcp::resolver::results_type results;
      sys_error e;
      bool ok = await(
          [&](auto done) {
            resolver.async_resolve(loc.host, std::to_string(loc.port), tcp::resolver::numeric_service,
                                   [&results, done](sys_error r, tcp::resolver::results_type found) {
                                     results = std::move(found);
                                     done(r);
                                   });
          },
          e, "resolving the host");
      if (!ok) return false;
      if (e) return fail_at(errc::network, "cannot resolve host '" + loc.host + "': " + e.message());
      for (const auto& r : results) candidates.push_back(r.endpoint());
    }
    std::vector<tcp::endpoint> allowed;
    std::string refused;
    for (const auto& ep : candidates) {
      auto kind = refused_address_kind(ep.address());
      if (kind.empty() || settings.allow_private_addresses) {
        allowed.push_back(ep);
      } else if (refused.empty()) {
        refused = ep.address().to_string() + " (" + std::string(kind) + ")";
      }
    }
    if (allowed.empty()) {
      if (refused.empty()) return fail_at(errc::network, "host '" + loc.host + "' has no address");
      return fail_at(errc::protocol_not_allowed, "refused address " + refused +
                                                     ": private addresses are not allowed for https inputs "
                                                     "(https_allow_private_addresses)");
    }

    conn = std::make_unique<connection>(ioc, tls);
    conn->authority = loc.authority();
    ++connections;
    sys_error e;
    bool ok = await(
        [&](auto done) {
          asio::async_connect(conn->stream.lowest_layer(), allowed,
                              [done](sys_error r, const tcp::endpoint&) { done(r); });
        },
        e, "connecting");
    if (!ok) return false;
    if (e) return fail_at(errc::network, "cannot connect to " + loc.authority() + ": " + e.message());

    if (!loc.ip && !SSL_set_tlsext_host_name(conn->stream.native_handle(), loc.host.c_str()))
      return fail_at(errc::internal, "cannot set the TLS server name");
    verify_failure.clear();
    conn->stream.set_verify_callback(
        [this, check = ssl::host_name_verification(loc.host)](bool preverified, ssl::verify_context& ctx) {
          if (!preverified) {
            if (verify_failure.empty())
              verify_failure = X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.native_handle()));
            return false;
          }
          bool valid = check(preverified, ctx);
          if (!valid && verify_failure.empty()) verify_failure = "it is not valid for " + loc.host;
          return valid;
        });
    ok = await([&](auto done) { conn->stream.async_handshake(ssl::stream_base::client, done); }, e,
               "in the TLS handshake");
    if (!ok) return false;
    if (e) {
      if (!verify_failure.empty())
        return fail_at(errc::protocol_not_allowed, "the server's certificate is not accepted: " + verify_failure);
      if (e.category() == asio::error::get_ssl_category())
        return fail_at(errc::protocol_not_allowed, "TLS handshake refused: " + e.message());
      return fail_at(errc::network, "TLS handshake failed: " + e.message());
    }
    return true;
  }

  // Sends a GET for the resource from byte `at` on and reads the response header, following
  // redirects. True when a body is ready on `conn` (or the resource ends before `at`: `ended`).
  bool request(std::int64_t at) {
    int redirects = 0;
    bool retried = false;
    for (;;) {
      bool reuse = conn && conn->reusable && !body_open && conn->authority == loc.authority();
      if (!reuse && !connect()) return false;
      http::request<http::empty_body> req{http::verb::get, loc.target, 11};
      req.set(http::field::host, loc.host_header);
      req.set(http::field::user_agent, std::string("spool/") + version_string());
      req.set(http::field::accept_encoding, "identity");
      req.set(http::field::range, "bytes=" + std::to_string(at) + "-");
      ++requests;
      sys_error e;
      if (!await(
              [&](auto done) { http::async_write(conn->stream, req, [done](sys_error r, std::size_t) { done(r); }); },
              e, "sending the request"))
        return false;
      conn->parser.emplace();
      conn->parser->body_limit(boost::none);
      conn->parser->header_limit(16 * 1024);
      if (!e && !await(
                    [&](auto done) {
                      http::async_read_header(conn->stream, conn->buffer, *conn->parser,
                                              [done](sys_error r, std::size_t) { done(r); });
                    },
                    e, "waiting for the response"))
        return false;
      if (e) {
        if (reuse && !retried) {  // the server closed an idle keep-alive connection: once more, fresh
          retried = true;
          conn.reset();
          continue;
        }
        return fail_at(errc::network, "no response: " + e.message());
      }
      conn->reusable = false;
      auto& res = conn->parser->get();
      int status = static_cast<int>(res.result_int());
      std::string reason(res.reason());
      std::string status_words = "HTTP " + std::to_string(status) + (reason.empty() ? "" : " " + reason);

      if (status == 301 || status == 302 || status == 303 || status == 307 || status == 308) {
        std::string where(res[http::field::location]);
        conn.reset();
        if (where.empty()) return fail_at(errc::input_unreadable, status_words + " without a Location");
        boost::urls::url next;
        auto base = boost::urls::parse_uri(loc.url);
        auto ref = boost::urls::parse_uri_reference(where);
        if (!base || !ref || !boost::urls::resolve(*base, *ref, next))
          return fail_at(errc::protocol_not_allowed, "redirected to an invalid location");
        std::string target(next.buffer());
        if (redirects >= settings.max_redirects)
          return fail_at(
              errc::protocol_not_allowed,
              "redirected to " + redact_url(target) + "; " +
                  (settings.max_redirects <= 0
                       ? std::string("redirects are not followed (https_max_redirects)")
                       : "more than " + std::to_string(settings.max_redirects) + " redirects (https_max_redirects)"));
        location next_loc;
        if (!check_location(target, next_loc, loc.shown + " redirected to ")) return false;
        loc = std::move(next_loc);
        ++redirects;
        retried = false;
        continue;
      }
      if (status == 206 || status == 200) {
        if (auto enc = res[http::field::content_encoding]; !enc.empty() && !iequals(enc, "identity"))
          return fail_at(errc::input_unreadable,
                         "the server sent an encoded body (Content-Encoding: " + std::string(enc) + ")");
        if (status == 206) {
          std::int64_t start = -1, total = -1;
          if (!parse_content_range(res[http::field::content_range], start, total) || start != at)
            return fail_at(errc::network, "the server answered a range request with another range (" +
                                              std::string(res[http::field::content_range]) + ")");
          range_ok = true;
          if (total >= 0) size = total;
          stream_pos = at;
        } else {
          range_ok = false;
          if (auto n = conn->parser->content_length()) size = static_cast<std::int64_t>(*n);
          stream_pos = 0;
        }
        body_open = !conn->parser->is_done();
        ended = !body_open;
        if (ended) conn->reusable = conn->parser->keep_alive();
        return true;
      }
      // The body of any other answer is not read: the connection goes, with the header (copy first).
      const std::string content_range(res[http::field::content_range]);
      const std::string retry_after(res[http::field::retry_after]);
      conn.reset();
      if (status == 416) {  // nothing at or after `at`: the resource ends before it
        std::int64_t start = -1, total = -1;
        if (parse_content_range(content_range, start, total) && total >= 0 && at >= total) {
          size = total;
          stream_pos = at;
          ended = true;
          return true;
        }
        return fail_at(errc::input_unreadable, status_words);
      }
      if (status == 429)
        return fail_at(errc::throttled,
                       status_words + (retry_after.empty() ? "" : " (Retry-After: " + retry_after + ")"));
      if (status >= 500) return fail_at(errc::network, status_words);
      return fail_at(errc::input_unreadable, status_words);
    }
  }

  // Reads body bytes at stream_pos into `out`: the count, 0 at the body's end, -1 on failure.
  std::int64_t read_body(std::span<std::uint8_t> out) {
    auto& p = *conn->parser;
    for (;;) {
      p.get().body().data = out.data();
      p.get().body().size = out.size();
      sys_error e;
      if (!await(
              [&](auto done) {
                http::async_read_some(conn->stream, conn->buffer, p, [done](sys_error r, std::size_t) { done(r); });
              },
              e, "reading the body"))
        return -1;
      if (e == http::error::need_buffer) e = {};
      // A body delimited by the end of the connection ends without TLS's close_notify on many servers.
      if (e == ssl::error::stream_truncated && !p.content_length() && !p.chunked()) {
        e = {};
        p.put_eof(e);
      }
      auto n = static_cast<std::int64_t>(out.size() - p.get().body().size);
      if (e) {
        fail_at(errc::network,
                "the connection failed after " + std::to_string(stream_pos + n) + " bytes: " + e.message());
        return -1;
      }
      stream_pos += n;
      if (p.is_done()) {
        body_open = false;
        ended = true;
        conn->reusable = p.keep_alive();
        if (size >= 0 && stream_pos != size) {
          fail_at(errc::network,
                  "the body ended at byte " + std::to_string(stream_pos) + " of " + std::to_string(size));
          return -1;
        }
        size = stream_pos;
      }
      if (n > 0 || !body_open) return n;
    }
  }

  bool discard(std::int64_t count) {
    if (scratch.empty()) scratch.resize(std::size_t{64} * 1024);
    while (count > 0 && body_open) {
      auto n = read_body(
          {scratch.data(), static_cast<std::size_t>(std::min(count, static_cast<std::int64_t>(scratch.size())))});
      if (n < 0) return false;
      count -= n;
    }
    return true;
  }

  // Brings the body stream on `conn` to `pos`. False on failure, or with no body open at the end.
  bool position_stream() {
    if (body_open && stream_pos == pos) return true;
    if (ended && !body_open && pos >= stream_pos) return false;  // the end of the resource
    if (body_open && pos > stream_pos && (!range_ok || pos - stream_pos <= discard_limit))
      return discard(pos - stream_pos) && body_open;
    if (!range_ok && opened)
      return fail_at(errc::feature_unsupported,
                     "the server ignores Range requests, and the input needs reading backwards (from byte " +
                         std::to_string(stream_pos) + " to " + std::to_string(pos) + ")");
    if (!request(pos)) return false;
    opened = true;
    if (stream_pos < pos) return discard(pos - stream_pos) && body_open;  // the server sent it all from 0
    return body_open;
  }
};

https_source::https_source(std::string url, https_settings settings) : impl_(std::make_unique<impl>()) {
  impl_->settings = std::move(settings);
  impl_->loc.url = std::move(url);
  impl_->loc.shown = redact_url(impl_->loc.url);
}

https_source::~https_source() = default;

bool https_source::open() {
  auto& s = *impl_;
  if (s.ec) return false;
  std::string url = s.loc.url;
  if (!s.check_location(url, s.loc, "") || !s.prepare_tls()) return false;
  s.pos = 0;
  if (!s.request(0)) return false;
  s.opened = true;
  return true;
}

void https_source::set_should_stop(std::function<error_code()> check) {
  impl_->settings.should_stop = std::move(check);
}

std::int64_t https_source::size() const noexcept { return impl_->size; }
bool https_source::seekable() const noexcept { return impl_->range_ok; }
std::int64_t https_source::position() const noexcept { return impl_->pos; }
const error_code& https_source::error() const noexcept { return impl_->ec; }
const std::string& https_source::detail() const noexcept { return impl_->detail; }
int https_source::connections() const noexcept { return impl_->connections; }
int https_source::requests() const noexcept { return impl_->requests; }

std::int64_t https_source::read(std::span<std::uint8_t> buffer) {
  auto& s = *impl_;
  if (!s.ec && !s.opened) s.fail(errc::internal, "read before open");
  if (s.ec) return -1;
  if (buffer.empty() || (s.size >= 0 && s.pos >= s.size)) return 0;
  if (!s.position_stream()) return s.ec ? -1 : 0;
  auto n = s.read_body(buffer);
  if (n > 0) s.pos += n;
  return n;
}

std::int64_t https_source::read_at(std::int64_t offset, std::span<std::uint8_t> buffer) {
  return seek(offset) ? read(buffer) : -1;
}

bool https_source::seek(std::int64_t offset) {
  auto& s = *impl_;
  if (s.ec) return false;
  if (offset < 0) return s.fail_at(errc::internal, "seek to a negative offset");
  if (!s.range_ok && s.opened && offset < s.stream_pos)
    return s.fail_at(errc::feature_unsupported,
                     "the server ignores Range requests, and the input needs reading backwards (from byte " +
                         std::to_string(s.stream_pos) + " to " + std::to_string(offset) + ")");
  s.pos = offset;
  return true;
}

std::string redact_url(std::string_view url) {
  auto u = boost::urls::parse_uri(url);
  if (!u) {  // not a URL: keep what precedes any query or fragment
    auto cut = url.find_first_of("?#");
    return std::string(url.substr(0, cut));
  }
  std::string out = lower(std::string(u->scheme())) + "://" + std::string(u->encoded_host_and_port());
  out += u->encoded_path();
  return out;
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::storage
