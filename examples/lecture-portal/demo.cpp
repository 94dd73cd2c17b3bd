#include "demo.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/file_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <thread>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;

namespace portal {

namespace {

// One request on a fresh connection; the answer's status and body.
template <class Body>
std::pair<unsigned, std::string> call(unsigned short port, http::request<Body>& req) {
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.expires_after(std::chrono::seconds(60));
  stream.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  req.set(http::field::host, fmt::format("127.0.0.1:{}", port));
  req.prepare_payload();
  http::write(stream, req);
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(stream, buffer, res);
  beast::error_code ignored;
  stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  return {res.result_int(), res.body()};
}

json::object get_video(unsigned short port, const std::string& id) {
  http::request<http::empty_body> req{http::verb::get, "/videos/" + id, 11};
  auto [status, body] = call(port, req);
  if (status != 200) throw std::runtime_error(fmt::format("GET /videos/{}: {} {}", id, status, body));
  return json::parse(body).as_object();
}

}  // namespace

demo_result run_demo(unsigned short port, const std::filesystem::path& file, const std::filesystem::path& data) {
  try {
    const auto size = std::filesystem::file_size(file);
    http::request<http::string_body> create{http::verb::post, "/videos", 11};
    create.set(http::field::content_type, "application/json");
    create.body() = json::serialize(
        json::object{{"filename", file.filename().string()}, {"size", size}, {"content_type", "video/mp4"}});
    auto [cs, cbody] = call(port, create);
    if (cs != 201) return {false, fmt::format("POST /videos: {} {}", cs, cbody)};
    const auto created = json::parse(cbody).as_object();
    const std::string id(created.at("id").as_string());
    const std::string url(created.at("upload_url").as_string());
    const auto path = url.find('/', url.find("://") + 3);
    std::printf("demo: POST /videos -> %s; uploading %s (%ju bytes)\n", id.c_str(), file.c_str(),
                static_cast<std::uintmax_t>(size));

    http::request<http::file_body> put{http::verb::put, url.substr(path), 11};
    beast::error_code ec;
    put.body().open(file.c_str(), beast::file_mode::scan, ec);
    if (ec) return {false, "cannot read " + file.string() + ": " + ec.message()};
    put.set(http::field::content_type, "video/mp4");
    auto [ps, pbody] = call(port, put);
    if (ps != 200) return {false, fmt::format("PUT upload: {} {}", ps, pbody)};
    std::printf("demo: uploaded; the portal answered at once and queued the job\n");
    std::fflush(stdout);

    std::string last;
    for (;;) {
      const auto v = get_video(port, id);
      const std::string state(v.at("state").as_string());
      const double progress = v.at("progress").to_number<double>();
      const double eta = v.at("eta_s").to_number<double>();
      const std::string line = state == "running"
                                   ? fmt::format("demo: running {:5.1f}%  eta {}", progress * 100,
                                                 eta < 0 ? std::string("?") : fmt::format("{:.0f} s", eta))
                                   : "demo: " + state;
      if (line != last) {
        std::printf("%s\n", line.c_str());
        std::fflush(stdout);
        last = line;
      }
      if (state == "succeeded") {
        std::printf(
            "\nThe sample lecture is playable:\n"
            "  page:     http://127.0.0.1:%u/\n"
            "  HLS:      http://127.0.0.1:%u/player?id=%s\n"
            "  DASH:     http://127.0.0.1:%u/player?id=%s&format=dash\n"
            "  package:  %s\n",
            port, port, id.c_str(), port, id.c_str(), std::filesystem::absolute(data / "packages" / id).c_str());
        std::fflush(stdout);
        return {true, {}};
      }
      if (state == "dead") return {false, "the sample's job failed: " + json::serialize(v.at("error"))};
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
  } catch (const std::exception& e) {
    return {false, e.what()};
  }
}

}  // namespace portal
