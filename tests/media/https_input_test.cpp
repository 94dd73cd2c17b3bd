// https inputs end to end, against a loopback HTTPS server with certificates made at test time:
// what is accepted (a trusted certificate for the allowed host), what is refused before anything is
// read (untrusted or misnamed certificates, unlisted or plain-http redirects, internal addresses),
// and how failures are typed (HTTP status, stalls, cancellation, deadlines, cut connections).
#include <spool/media/probe.hpp>
#include <spool/media/transcode.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "fixtures.hpp"
#include "lavfi_input.hpp"
#include "package_checks.hpp"
#include "test_pki.hpp"
#include "tls_server.hpp"

namespace fs = std::filesystem;
using namespace spool::test;
namespace media = spool::media;
using spool::errc;

namespace {

struct https_setup {
  scratch_dir dir;
  test_pki pki;

  explicit https_setup(const std::string& tag) : dir(tag), pki(make_test_pki(dir.path())) {}

  tls_server_options server(const fs::path& body = {}) const {
    tls_server_options o;
    o.cert_file = pki.server_cert;
    o.key_file = pki.server_key;
    o.body_file = body;
    return o;
  }
  /// localhost allowed, the test CA trusted, loopback allowed (the server is on 127.0.0.1).
  media::transcode_options options() const {
    auto o = options_for(small_plan());
    o.policy.https_hosts = {"localhost"};
    o.policy.https_ca_file = pki.ca_cert.string();
    o.policy.https_allow_private_addresses = true;
    return o;
  }
  fs::path input(const std::string& name, const input_spec& spec = {}) const {
    auto path = dir / name;
    make_input(path, spec);
    return path;
  }
};

struct outcome {
  spool::error_code ec;
  std::string detail;
  double seconds = 0;
};

outcome transcode_url(const std::string& url, const fs::path& out, const media::transcode_options& options,
                      const media::cancel_flag* cancel = nullptr) {
  media::transcode_result result;
  auto started = std::chrono::steady_clock::now();
  outcome o;
  o.ec = spool::transcode(url, out, options, result, cancel);
  o.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  o.detail = result.error_detail;
  return o;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

/// Offsets of the top-level MP4 boxes named `type`, read from the file itself.
std::int64_t box_offset(const fs::path& file, const std::string& type) {
  std::ifstream in(file, std::ios::binary);
  const auto size = static_cast<std::int64_t>(fs::file_size(file));
  std::int64_t at = 0;
  while (at + 8 <= size) {
    unsigned char head[16] = {};
    in.seekg(at);
    in.read(reinterpret_cast<char*>(head), 16);
    std::uint64_t box =
        std::uint64_t{head[0]} << 24 | std::uint64_t{head[1]} << 16 | std::uint64_t{head[2]} << 8 | head[3];
    if (box == 1) {
      box = 0;
      for (int i = 8; i < 16; ++i) box = box << 8 | head[i];
    } else if (box == 0) {
      box = static_cast<std::uint64_t>(size - at);
    }
    if (std::string(reinterpret_cast<char*>(head) + 4, 4) == type) return at;
    if (box < 8) break;
    at += static_cast<std::int64_t>(box);
  }
  return -1;
}

}  // namespace

TEST_CASE("https: a trusted certificate on an allowed host transcodes, moov at the end read through Range requests",
          "[media][https]") {
  https_setup s("https-ok");
  input_spec spec;
  spec.duration_s = 4;
  const auto input = s.input("in.mp4", spec);
  const auto mdat = box_offset(input, "mdat"), moov = box_offset(input, "moov");
  INFO("mdat at " << mdat << ", moov at " << moov);
  REQUIRE(mdat > 0);
  REQUIRE(moov > mdat);  // the index comes after the media: the reader must jump forward and back

  tls_server server(s.server(input));
  media::transcode_result result;
  auto pkg = transcode_ok(server.url("localhost", "/in.mp4"), s.dir / "out", s.options(), result);
  package_expectation expect;
  expect.source_duration = 4;
  expect.fps = 30;
  check_package(pkg, expect);

  const auto ranges = server.range_headers();
  INFO("requests " << server.requests() << ", connections " << server.connections());
  REQUIRE(ranges.size() >= 2);
  CHECK(std::all_of(ranges.begin(), ranges.end(), [](const std::string& r) { return range_start(r) >= 0; }));
  // After the index at the end, the samples are read again from inside the mdat box.
  CHECK(std::any_of(ranges.begin(), ranges.end(),
                    [&](const std::string& r) { return range_start(r) > mdat && range_start(r) < moov; }));
  // A body read to its end leaves the connection open for the next request.
  CHECK(server.connections() < server.requests());
}

TEST_CASE("https: a self-signed certificate is refused before any request", "[media][https][policy]") {
  https_setup s("https-self");
  const auto input = s.input("in.mp4");
  auto o = s.server(input);
  o.cert_file = s.pki.self_signed_cert;
  o.key_file = s.pki.self_signed_key;
  tls_server server(o);
  for (bool system_store : {false, true}) {
    INFO((system_store ? "the system's CAs" : "the test CA"));
    auto options = s.options();
    if (system_store) options.policy.https_ca_file.clear();
    const auto out = s.dir / "out";
    auto r = transcode_url(server.url("localhost", "/in.mp4"), out, options);
    INFO(describe(r.ec) << " - " << r.detail);
    CHECK(r.ec == errc::protocol_not_allowed);
    CHECK(contains(r.detail, "certificate"));
    check_failed_cleanly(r.ec, out);
  }
  CHECK(server.connections() >= 2);  // refused by the TLS handshake, not before connecting
  CHECK(server.requests() == 0);
  CHECK(server.media_responses() == 0);
}

TEST_CASE("https: a certificate for another host name is refused", "[media][https][policy]") {
  https_setup s("https-name");
  const auto input = s.input("in.mp4");
  auto o = s.server(input);
  o.cert_file = s.pki.other_cert;  // signed by the trusted CA, but for other.invalid
  o.key_file = s.pki.other_key;
  tls_server server(o);
  const auto out = s.dir / "out";
  auto r = transcode_url(server.url("localhost", "/in.mp4"), out, s.options());
  INFO(describe(r.ec) << " - " << r.detail);
  CHECK(r.ec == errc::protocol_not_allowed);
  CHECK(contains(r.detail, "certificate"));
  check_failed_cleanly(r.ec, out);
  CHECK(server.connections() == 1);
  CHECK(server.requests() == 0);
}

TEST_CASE("https: redirects are followed only to https URLs on allowed hosts", "[media][https][policy]") {
  https_setup s("https-redirect");
  const auto input = s.input("in.mp4", [] {
    input_spec spec;
    spec.duration_s = 2;
    return spec;
  }());
  tls_server target(s.server(input));
  const auto out = s.dir / "out";

  SECTION("to a host that is not on the allow-list") {
    auto o = s.server();
    o.redirect_to = target.url("127.0.0.1", "/in.mp4?X-Amz-Signature=secret");
    tls_server origin(o);
    auto r = transcode_url(origin.url("localhost", "/in.mp4"), out, s.options());
    INFO(describe(r.ec) << " - " << r.detail);
    CHECK(r.ec == errc::protocol_not_allowed);
    CHECK(contains(r.detail, "127.0.0.1"));  // says where it tried to go
    CHECK_FALSE(contains(r.detail, "secret"));
    check_failed_cleanly(r.ec, out);
    CHECK(origin.requests() == 1);
    CHECK(target.connections() == 0);
  }
  SECTION("to plain http") {
    auto o = s.server();
    o.redirect_to = "http://localhost:" + std::to_string(target.port()) + "/in.mp4";
    tls_server origin(o);
    auto r = transcode_url(origin.url("localhost", "/in.mp4"), out, s.options());
    INFO(describe(r.ec) << " - " << r.detail);
    CHECK(r.ec == errc::protocol_not_allowed);
    CHECK(contains(r.detail, "http://localhost"));
    check_failed_cleanly(r.ec, out);
    CHECK(target.connections() == 0);
  }
  SECTION("to an allowed host: followed, unless https_max_redirects is 0") {
    auto o = s.server();
    o.redirect_to = target.url("localhost", "/in.mp4");
    tls_server origin(o);
    auto policy = s.options().policy;
    media::probe_result probed;
    std::string detail;
    auto ec = probe(origin.url("localhost", "/start"), policy, probed, &detail);
    INFO(describe(ec) << " - " << detail);
    REQUIRE_FALSE(ec);
    CHECK(probed.video_index >= 0);
    CHECK(target.requests() >= 1);

    const int before = target.connections();
    policy.https_max_redirects = 0;
    ec = probe(origin.url("localhost", "/start"), policy, probed, &detail);
    INFO(describe(ec) << " - " << detail);
    CHECK(ec == errc::protocol_not_allowed);
    CHECK(target.connections() == before);
  }
  SECTION("a redirect loop stops after https_max_redirects") {
    auto o = s.server();
    o.redirect_to = "https://localhost:{port}/again";
    tls_server loop(o);
    auto options = s.options();
    options.policy.https_max_redirects = 3;
    auto r = transcode_url(loop.url("localhost", "/start"), out, options);
    INFO(describe(r.ec) << " - " << r.detail);
    CHECK(r.ec == errc::protocol_not_allowed);
    check_failed_cleanly(r.ec, out);
    CHECK(loop.requests() == 4);  // the first request and three redirects
  }
}

TEST_CASE("https: internal addresses are refused without connecting unless allowed", "[media][https][policy]") {
  https_setup s("https-private");
  const auto input = s.input("in.mp4");
  tls_server server(s.server(input));
  const auto out = s.dir / "out";
  const std::string port = std::to_string(server.port());

  SECTION("an allowed name that resolves to loopback") {
    auto options = s.options();
    options.policy.https_allow_private_addresses = false;
    auto r = transcode_url(server.url("localhost", "/in.mp4"), out, options);
    INFO(describe(r.ec) << " - " << r.detail);
    CHECK(r.ec == errc::protocol_not_allowed);
    CHECK(contains(r.detail, "loopback"));
    check_failed_cleanly(r.ec, out);
  }
  SECTION("IP literals, in IPv4, IPv4-mapped IPv6 and 'this host' forms") {
    for (std::string host : {"127.0.0.1", "[::ffff:127.0.0.1]", "0.0.0.0"}) {
      INFO("host " << host);
      auto options = s.options();
      options.policy.https_hosts = {host};
      options.policy.https_allow_private_addresses = false;
      auto r = transcode_url("https://" + host + ":" + port + "/in.mp4", out, options);
      INFO(describe(r.ec) << " - " << r.detail);
      CHECK(r.ec == errc::protocol_not_allowed);
      check_failed_cleanly(r.ec, out);
    }
  }
  SECTION("the cloud metadata address, refused at once") {
    auto options = s.options();
    options.policy.https_hosts = {"169.254.169.254"};
    options.policy.https_allow_private_addresses = false;
    auto r = transcode_url("https://169.254.169.254/latest/meta-data", out, options);
    INFO(describe(r.ec) << " - " << r.detail);
    CHECK(r.ec == errc::protocol_not_allowed);
    CHECK(contains(r.detail, "link-local"));
    CHECK(r.seconds < 5);  // no connection attempt to time out
    check_failed_cleanly(r.ec, out);
  }
  CHECK(server.connections() == 0);
}

TEST_CASE("https: a server that ignores Range serves sequential inputs, backward seeks fail typed", "[media][https]") {
  https_setup s("https-norange");
  input_spec spec;
  spec.duration_s = 4;

  SECTION("MPEG-TS needs no seek") {
    spec.container = "ts";
    const auto input = s.input("in.ts", spec);
    auto o = s.server(input);
    o.ranges = false;
    tls_server server(o);
    media::transcode_result result;
    auto pkg = transcode_ok(server.url("localhost", "/in.ts"), s.dir / "out", s.options(), result);
    package_expectation expect;
    expect.source_duration = 4;
    expect.fps = 30;
    expect.duration_tolerance = 0.1;
    check_package(pkg, expect);
    CHECK(server.requests() == 1);  // read once, front to back
  }
  SECTION("MP4 with its index at the end") {
    const auto input = s.input("in.mp4", spec);
    REQUIRE(box_offset(input, "moov") > box_offset(input, "mdat"));
    auto o = s.server(input);
    o.ranges = false;
    tls_server server(o);
    const auto out = s.dir / "out";
    auto r = transcode_url(server.url("localhost", "/in.mp4"), out, s.options());
    INFO(describe(r.ec) << " - " << r.detail);
    CHECK(r.ec == errc::feature_unsupported);
    CHECK(contains(r.detail, "Range"));
    check_failed_cleanly(r.ec, out);
  }
}

TEST_CASE("https: a stalled server is cut short by cancellation and by the deadline", "[media][https]") {
  https_setup s("https-stall");
  auto o = s.server();
  o.stall = true;
  tls_server server(o);
  const auto out = s.dir / "out";

  SECTION("cancelled") {
    media::cancel_flag cancel{false};
    std::thread canceller([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      cancel.store(true);
    });
    auto r = transcode_url(server.url("localhost", "/in.mp4"), out, s.options(), &cancel);
    canceller.join();
    INFO(describe(r.ec) << " - " << r.detail << " after " << r.seconds << " s");
    CHECK(r.ec == errc::cancelled);
    CHECK(r.seconds < 15);  // well before the 30 s idle timeout
    check_failed_cleanly(r.ec, out);
  }
  SECTION("deadline") {
    auto options = s.options();
    options.policy.deadline = std::chrono::seconds(1);
    auto r = transcode_url(server.url("localhost", "/in.mp4"), out, options);
    INFO(describe(r.ec) << " - " << r.detail << " after " << r.seconds << " s");
    CHECK(r.ec == errc::deadline_exceeded);
    CHECK(r.seconds < 15);
    check_failed_cleanly(r.ec, out);
  }
  CHECK(server.connections() >= 1);
}

TEST_CASE("https: HTTP statuses map to the error taxonomy", "[media][https][errors]") {
  https_setup s("https-status");
  const std::vector<std::pair<int, errc>> cases = {
      {404, errc::input_unreadable}, {410, errc::input_unreadable}, {401, errc::input_unreadable},
      {403, errc::input_unreadable}, {400, errc::input_unreadable}, {429, errc::throttled},
      {500, errc::network},          {503, errc::network},
  };
  for (const auto& [status, expected] : cases) {
    INFO("HTTP " << status);
    auto o = s.server();
    o.status = status;
    tls_server server(o);
    const auto out = s.dir / "out";
    auto r = transcode_url(server.url("localhost", "/in.mp4"), out, s.options());
    INFO(describe(r.ec) << " - " << r.detail);
    CHECK(r.ec == expected);
    CHECK(contains(r.detail, std::to_string(status)));
    check_failed_cleanly(r.ec, out);
    CHECK(server.requests() == 1);
  }
}

TEST_CASE("https: a connection cut mid-body is a network error, not a shorter package", "[media][https][errors]") {
  // The read callback returns an I/O error, never EOF, for a failed read: AVIO keeps it in pb->error
  // and av_read_frame reports it even where a demuxer turns the failure into its end of file. The
  // MP4 case fails inside its third request (the samples, after the index at the end).
  for (std::string container : {"ts", "mp4", "mkv"}) {
    INFO("container " << container);
    https_setup s("https-cut");
    input_spec spec;
    spec.duration_s = 8;
    spec.container = container;
    const auto input = s.input("in." + container, spec);
    auto o = s.server(input);
    o.cut_after = static_cast<std::int64_t>(fs::file_size(input)) * 6 / 10;  // every response stops there
    tls_server server(o);
    const auto out = s.dir / "out";
    auto r = transcode_url(server.url("localhost", "/in." + container), out, s.options());
    std::string ranges;
    for (const auto& h : server.range_headers()) ranges += " " + h;
    INFO(describe(r.ec) << " - " << r.detail << "; size " << fs::file_size(input) << ", requests:" << ranges);
    CHECK(r.ec == errc::network);
    check_failed_cleanly(r.ec, out);
  }
}

TEST_CASE("https: an empty resource is not media", "[media][https][errors]") {
  https_setup s("https-empty");
  const auto input = s.dir / "empty.mp4";
  write_text(input, "");
  tls_server server(s.server(input));
  const auto out = s.dir / "out";
  auto r = transcode_url(server.url("localhost", "/empty.mp4"), out, s.options());
  INFO(describe(r.ec) << " - " << r.detail);
  CHECK(r.ec == errc::input_not_media);
  check_failed_cleanly(r.ec, out);
}

TEST_CASE("https: error messages never contain the URL's query string", "[media][https][errors]") {
  https_setup s("https-query");
  const auto input = s.input("in.mp4");
  const std::string query = "?X-Amz-Credential=AKIAEXAMPLE&X-Amz-Signature=secret";
  const auto out = s.dir / "out";
  auto check_message = [&](const outcome& r) {
    INFO(describe(r.ec) << " - " << r.detail);
    CHECK(r.ec);
    CHECK_FALSE(r.detail.empty());
    CHECK_FALSE(contains(r.detail, "secret"));
    CHECK_FALSE(contains(r.detail, "X-Amz"));
    CHECK_FALSE(contains(r.detail, "AKIA"));
    CHECK(contains(r.detail, "/in.mp4"));  // the URL is named, without its query
    check_failed_cleanly(r.ec, out);
  };

  SECTION("HTTP 404, with the query sent to the server") {
    auto o = s.server(input);
    o.status = 404;
    tls_server server(o);
    check_message(transcode_url(server.url("localhost", "/in.mp4" + query), out, s.options()));
    const auto targets = server.targets();
    REQUIRE(targets.size() == 1);
    CHECK(targets.front() == "/in.mp4" + query);
  }
  SECTION("an untrusted certificate") {
    auto o = s.server(input);
    o.cert_file = s.pki.self_signed_cert;
    o.key_file = s.pki.self_signed_key;
    tls_server server(o);
    check_message(transcode_url(server.url("localhost", "/in.mp4" + query), out, s.options()));
  }
  SECTION("a refused address") {
    tls_server server(s.server(input));
    auto options = s.options();
    options.policy.https_allow_private_addresses = false;
    check_message(transcode_url(server.url("localhost", "/in.mp4" + query), out, options));
  }
  SECTION("a refused redirect whose target carries a query too") {
    auto o = s.server(input);
    o.redirect_to = "https://elsewhere.invalid/in.mp4" + query;
    tls_server server(o);
    check_message(transcode_url(server.url("localhost", "/in.mp4" + query), out, s.options()));
  }
}
