#include "support/fault_proxy.hpp"

#include <boost/algorithm/string/predicate.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <atomic>
#include <deque>
#include <exception>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace spool::inline SPOOL_ABI_NAMESPACE::test::aws {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

fault fault::sqs_throttling() {
  fault f;
  f.what = kind::answer;
  f.status = 400;
  f.content_type = "application/x-amz-json-1.0";
  f.body = R"({"__type":"com.amazonaws.sqs#ThrottlingException","message":"Rate exceeded"})";
  return f;
}

fault fault::s3_slow_down() {
  fault f;
  f.what = kind::answer;
  f.status = 503;
  f.content_type = "application/xml";
  f.body =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code>"
      "<Message>Please reduce your request rate.</Message><RequestId>FAULTPROXY</RequestId></Error>";
  return f;
}

fault fault::internal_error() {
  fault f;
  f.what = kind::answer;
  f.status = 500;
  f.content_type = "application/xml";
  f.body =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>InternalError</Code>"
      "<Message>We encountered an internal error. Please try again.</Message></Error>";
  return f;
}

fault fault::connection_reset() {
  fault f;
  f.what = kind::reset;
  return f;
}

fault fault::reset_after_forwarding() {
  fault f;
  f.what = kind::reset_after_forward;
  return f;
}

fault fault::cut_answer() {
  fault f;
  f.what = kind::cut_answer;
  return f;
}

fault fault::delayed(std::chrono::milliseconds d) {
  fault f;
  f.delay = d;
  return f;
}

namespace {

// Idle limits so that a client or upstream that goes quiet cannot keep a test waiting for ever.
constexpr auto idle_limit = 60s;
constexpr std::uint64_t body_limit = 256ull * 1024 * 1024;

using request = http::request<http::string_body>;
using response = http::response<http::string_body>;

response plain_answer(const request& req, int status, const std::string& content_type, std::string body) {
  response res(static_cast<http::status>(status), req.version());
  res.set(http::field::content_type, content_type);
  res.set(http::field::server, "spool-fault-proxy");
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

void reset(beast::tcp_stream& stream) {
  boost::system::error_code ec;
  stream.socket().set_option(asio::socket_base::linger(true, 0), ec);
  stream.socket().close(ec);
}

}  // namespace

struct fault_proxy::impl {
  std::string upstream_host, upstream_port;
  asio::io_context ioc;
  tcp::acceptor acceptor{ioc};
  std::uint16_t port = 0;
  std::thread thread;

  mutable std::mutex mutex;
  std::deque<fault> faults;
  std::deque<std::pair<std::string, fault>> targeted;  // (what the request line contains, fault)
  std::vector<std::string> seen;
  std::atomic<int> requests{0}, forwarded{0};

  fault take(const request& req) {
    std::string line = std::string(req.method_string()) + " " + std::string(req.target());
    if (auto target = req.find("X-Amz-Target"); target != req.end()) line += " " + std::string(target->value());
    const std::lock_guard lock(mutex);
    auto hit = std::find_if(targeted.begin(), targeted.end(),
                            [&](const auto& t) { return line.find(t.first) != std::string::npos; });
    seen.push_back(std::move(line));
    if (hit != targeted.end()) {
      fault f = std::move(hit->second);
      targeted.erase(hit);
      return f;
    }
    if (faults.empty()) return {};
    fault f = std::move(faults.front());
    faults.pop_front();
    return f;
  }

  asio::awaitable<response> forward(request req) {
    boost::system::error_code ec;
    auto token = asio::redirect_error(asio::use_awaitable, ec);
    tcp::resolver resolver(ioc);
    const auto endpoints = co_await resolver.async_resolve(upstream_host, upstream_port, token);
    beast::tcp_stream upstream(ioc);
    upstream.expires_after(idle_limit);
    if (!ec) co_await upstream.async_connect(endpoints, token);
    if (!ec) co_await http::async_write(upstream, req, token);
    http::response_parser<http::string_body> parser;
    parser.body_limit(body_limit);
    if (req.method() == http::verb::head) parser.skip(true);
    beast::flat_buffer buffer;
    if (!ec) co_await http::async_read(upstream, buffer, parser, token);
    if (ec) co_return plain_answer(req, 502, "text/plain", "fault proxy: upstream failed: " + ec.message());
    forwarded.fetch_add(1);
    // The upstream's answer as it came (a HEAD's Content-Length included): no prepare_payload().
    co_return parser.release();
  }

  asio::awaitable<void> serve(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    boost::system::error_code ec;
    auto token = asio::redirect_error(asio::use_awaitable, ec);
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(body_limit);
      stream.expires_after(idle_limit);
      co_await http::async_read_header(stream, buffer, parser, token);
      if (ec) co_return;
      // botocore asks before sending a PUT's body; upstream gets the request without the question.
      if (boost::iequals(parser.get()[http::field::expect], "100-continue")) {
        http::response<http::empty_body> go_on(http::status::continue_, 11);
        co_await http::async_write(stream, go_on, token);
        if (ec) co_return;
      }
      co_await http::async_read(stream, buffer, parser, token);
      if (ec) co_return;
      request req = parser.release();
      req.erase(http::field::expect);
      requests.fetch_add(1);
      const fault f = take(req);
      const bool keep_alive = req.keep_alive();

      if (f.delay > 0ms) {
        asio::steady_timer timer(ioc, f.delay);
        co_await timer.async_wait(token);
      }
      response res;
      switch (f.what) {
        case fault::kind::reset: reset(stream); co_return;
        case fault::kind::answer: res = plain_answer(req, f.status, f.content_type, f.body); break;
        case fault::kind::forward: res = co_await forward(std::move(req)); break;
        case fault::kind::reset_after_forward:
          co_await forward(std::move(req));
          reset(stream);
          co_return;
        case fault::kind::cut_answer: {
          res = co_await forward(std::move(req));
          std::ostringstream raw;
          raw << res;
          const std::string wire = raw.str();
          co_await asio::async_write(stream, asio::buffer(wire.data(), wire.size() - res.body().size() / 2), token);
          // A close, not a reset: a reset would discard what the client has not read yet.
          stream.socket().shutdown(tcp::socket::shutdown_send, ec);
          co_return;
        }
      }
      res.keep_alive(keep_alive);
      stream.expires_after(idle_limit);
      co_await http::async_write(stream, res, token);
      if (ec || !keep_alive) break;
    }
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  asio::awaitable<void> accept_loop() {
    for (;;) {
      boost::system::error_code ec;
      tcp::socket socket = co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      asio::co_spawn(ioc, serve(std::move(socket)), [](const std::exception_ptr&) {});
    }
  }
};

fault_proxy::fault_proxy(const std::string& upstream) : impl_(std::make_unique<impl>()) {
  constexpr std::string_view scheme = "http://";
  std::string_view rest(upstream);
  if (!rest.starts_with(scheme)) throw std::invalid_argument("fault_proxy: upstream must be http://HOST:PORT");
  rest.remove_prefix(scheme.size());
  rest = rest.substr(0, rest.find('/'));
  const auto colon = rest.rfind(':');
  impl_->upstream_host = std::string(rest.substr(0, colon));
  impl_->upstream_port = colon == std::string_view::npos ? "80" : std::string(rest.substr(colon + 1));

  const tcp::endpoint local(asio::ip::address_v4::loopback(), 0);
  impl_->acceptor.open(local.protocol());
  impl_->acceptor.set_option(asio::socket_base::reuse_address(true));
  impl_->acceptor.bind(local);
  impl_->acceptor.listen();
  impl_->port = impl_->acceptor.local_endpoint().port();
  asio::co_spawn(impl_->ioc, impl_->accept_loop(), [](const std::exception_ptr&) {});
  impl_->thread = std::thread([this] { impl_->ioc.run(); });
}

fault_proxy::~fault_proxy() {
  impl_->ioc.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

std::uint16_t fault_proxy::port() const noexcept { return impl_->port; }

std::string fault_proxy::endpoint() const { return "http://127.0.0.1:" + std::to_string(impl_->port); }

void fault_proxy::script(const std::vector<fault>& faults) {
  const std::lock_guard lock(impl_->mutex);
  impl_->faults.insert(impl_->faults.end(), faults.begin(), faults.end());
}

void fault_proxy::script_for(const std::string& match, const std::vector<fault>& faults) {
  const std::lock_guard lock(impl_->mutex);
  for (const auto& f : faults) impl_->targeted.emplace_back(match, f);
}

std::size_t fault_proxy::pending() const {
  const std::lock_guard lock(impl_->mutex);
  return impl_->faults.size() + impl_->targeted.size();
}

int fault_proxy::requests() const noexcept { return impl_->requests.load(); }

int fault_proxy::forwarded() const noexcept { return impl_->forwarded.load(); }

std::vector<std::string> fault_proxy::seen() const {
  const std::lock_guard lock(impl_->mutex);
  return impl_->seen;
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::test::aws
