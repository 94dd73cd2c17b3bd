// GET /videos/{id}/events: server-sent events. The record at once, then after every change, and a
// comment every 15 s so proxies and the client see the stream alive; the stream ends after the
// video's last state. The catalog's watcher only cancels this connection's timer (on its strand), so
// a slow client holds nothing but its own connection.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/serialize.hpp>

#include <memory>

#include "http.hpp"
#include "service.hpp"

namespace asio = boost::asio;

namespace portal {

asio::awaitable<void> handle_events(exchange& x, std::string_view id_view) {
  if (x.header().method() != http::verb::get)
    co_return co_await send_error(x, http::status::method_not_allowed, "method_not_allowed", "use GET");
  const std::string id(id_view);
  if (!valid_id(id) || !x.app.videos().get(id))
    co_return co_await send_error(x, http::status::not_found, "not_found", "no such video");

  auto ex = co_await asio::this_coro::executor;
  // Touched only on this connection's strand: `changed` keeps a change that comes while a write is
  // under way from being lost.
  struct wakeup {
    explicit wakeup(asio::any_io_executor e) : timer(std::move(e)) {}
    asio::steady_timer timer;
    bool changed = false;
  };
  auto wake = std::make_shared<wakeup>(ex);
  const auto subscription = x.app.videos().watch([wake, id, ex](const video& v) {
    if (v.id == id)
      asio::post(ex, [wake] {
        wake->changed = true;
        wake->timer.cancel();
      });
  });

  http::response<http::empty_body> res{http::status::ok, x.header().version()};
  res.set(http::field::content_type, "text/event-stream");
  res.set(http::field::cache_control, "no-store");
  res.keep_alive(false);  // the body lasts until the stream ends
  x.keep_alive = false;
  x.status = 200;
  http::response_serializer<http::empty_body> writer{res};
  x.stream.expires_after(std::chrono::seconds(30));
  auto [hec, hn] = co_await http::async_write_header(x.stream, writer, asio::as_tuple(asio::use_awaitable));
  if (hec) co_return;

  std::uint64_t sent = 0;
  for (;;) {
    wake->changed = false;
    auto v = x.app.videos().get(id);
    if (!v) co_return;
    std::string text;
    if (v->version != sent) {
      text = "event: video\ndata: " + boost::json::serialize(to_json(*v)) + "\n\n";
      sent = v->version;
    } else {
      text = ": alive\n\n";
    }
    x.stream.expires_after(std::chrono::seconds(30));
    auto [ec, n] = co_await asio::async_write(x.stream, asio::buffer(text), asio::as_tuple(asio::use_awaitable));
    if (ec || is_final(v->state)) co_return;
    if (wake->changed) continue;
    wake->timer.expires_after(std::chrono::seconds(15));
    co_await wake->timer.async_wait(asio::as_tuple(asio::use_awaitable));  // cancelled: something changed
  }
}

}  // namespace portal
