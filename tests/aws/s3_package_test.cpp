// Packages published to S3: every file with its media type and caching, the manifests after the
// files they name and result.json last (seen by a recording proxy), multipart for large files, and
// nothing left behind by an abort or a failure.
#include "aws/s3_package.hpp"

#include <spool/aws/s3.hpp>
#include <spool/package_layout.hpp>

#include <catch2/catch.hpp>

#include <fstream>
#include <map>
#include <regex>
#include <set>

#include "s3_fixture.hpp"

using namespace spool;
using namespace spool::aws;
namespace fs = std::filesystem;

namespace {

std::span<const std::byte> bytes_of(const std::vector<std::byte>& v) { return {v.data(), v.size()}; }

// The keys under `prefix`, as the emulator lists them to a plain, unsigned GET.
std::set<std::string> listed(const std::string& endpoint, const std::string& bucket, const std::string& prefix) {
  auto xml =
      s3test::run("curl -s --max-time 10 " + s3test::quoted(endpoint + "/" + bucket + "?list-type=2&prefix=" + prefix));
  std::set<std::string> keys;
  std::regex key("<Key>([^<]*)</Key>");
  for (std::sregex_iterator it(xml.begin(), xml.end(), key), end; it != end; ++it) keys.insert((*it)[1].str());
  return keys;
}

// An object's answer headers to a plain HEAD, names lower-cased.
std::map<std::string, std::string> head(const std::string& url) {
  auto text = s3test::run("curl -sI --max-time 10 " + s3test::quoted(url));
  std::map<std::string, std::string> h;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ')) value.erase(0, 1);
    while (!value.empty() && (value.back() == '\r' || value.back() == ' ')) value.pop_back();
    h[name] = value;
  }
  return h;
}

std::string get(const std::string& url) { return s3test::run("curl -s --max-time 20 " + s3test::quoted(url)); }

fs::path write_file(const fs::path& p, const std::vector<std::byte>& data) {
  std::ofstream(p, std::ios::binary)
      .write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
  return p;
}

// The files of a small synthetic package (fake bytes: no encoder here).
const std::vector<std::string> segment_files = {"720p/init.mp4",  "720p/seg_00001.m4s",  "720p/seg_00002.m4s",
                                                "audio/init.mp4", "audio/seg_00001.m4s", "poster.jpg",
                                                "storyboard.jpg", "storyboard.vtt"};
const std::vector<std::string> manifest_files = {"720p/index.m3u8", "audio/index.m3u8", "master.m3u8", "manifest.mpd",
                                                 "result.json"};

struct put_span {
  std::string key;
  std::size_t start = 0;  ///< index of the request line among the proxy's events
  std::size_t end = 0;    ///< index of its answer
};

// Each PUT the proxy saw, with when it started and when its answer came (one request at a time per
// connection, so answers pair with requests in order).
std::vector<put_span> puts_seen(const std::vector<s3test::recording_proxy::event>& events, const std::string& prefix) {
  std::vector<put_span> out;
  std::map<int, std::vector<std::pair<std::string, std::size_t>>> open;  // per connection, in order
  for (std::size_t i = 0; i < events.size(); ++i) {
    const auto& e = events[i];
    if (e.request) {
      open[e.connection].emplace_back(e.text, i);
      continue;
    }
    auto& q = open[e.connection];
    if (q.empty()) continue;
    auto [line, start] = q.front();
    q.erase(q.begin());
    if (!line.starts_with("PUT " + prefix)) continue;
    auto path = line.substr(4 + prefix.size());
    path = path.substr(0, path.find_first_of(" ?"));
    out.push_back({path, start, i});
  }
  return out;
}

}  // namespace

TEST_CASE("An S3 package is published whole: types, caching, manifests after segments, result.json last", "[s3]") {
  auto server = s3test::s3rver_service::start();  // checks every request's signature
  s3test::recording_proxy proxy(s3test::port_of(server.endpoint));
  auto o = s3test::options_for(proxy.endpoint(), "S3RVER", "S3RVER");
  o.upload_threads = 3;
  auto client = std::make_shared<s3_client>(o);
  s3test::create_bucket(*client, "media");

  auto sink = open_s3_package(client, "media/out/job1", false);
  REQUIRE(sink.has_value());
  CHECK((*sink)->caps().incremental);
  std::map<std::string, std::vector<std::byte>> content;
  for (std::size_t i = 0; i < segment_files.size(); ++i) {
    content[segment_files[i]] = s3test::random_bytes(20000 + i * 1000, static_cast<unsigned>(i));
    REQUIRE_FALSE((*sink)->put(segment_files[i], bytes_of(content[segment_files[i]])));
  }
  for (const auto& m : manifest_files) REQUIRE_FALSE((*sink)->put_manifest(m, "text of " + m + "\n"));
  REQUIRE_FALSE((*sink)->commit({}));

  std::set<std::string> expected;
  for (const auto& f : segment_files) expected.insert("out/job1/" + f);
  for (const auto& f : manifest_files) expected.insert("out/job1/" + f);
  CHECK(listed(server.endpoint, "media", "out/job1/") == expected);
  for (const auto& [name, bytes] : content)
    CHECK(get(server.endpoint + "/media/out/job1/" + name) ==
          std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  CHECK(get(server.endpoint + "/media/out/job1/master.m3u8") == "text of master.m3u8\n");

  // What the server stored, against the types the formats' specifications give.
  const std::map<std::string, std::string> types = {{"720p/init.mp4", "video/mp4"},
                                                    {"720p/seg_00001.m4s", "video/mp4"},
                                                    {"audio/seg_00001.m4s", "audio/mp4"},
                                                    {"poster.jpg", "image/jpeg"},
                                                    {"storyboard.vtt", "text/vtt"},
                                                    {"720p/index.m3u8", "application/vnd.apple.mpegurl"},
                                                    {"master.m3u8", "application/vnd.apple.mpegurl"},
                                                    {"manifest.mpd", "application/dash+xml"},
                                                    {"result.json", "application/json"}};
  for (const auto& [name, type] : types) {
    INFO(name);
    auto h = head(server.endpoint + "/media/out/job1/" + name);
    CHECK(h["content-type"] == type);
    const bool segment =
        name.ends_with(".m4s") || name.ends_with(".mp4") || name.ends_with(".jpg") || name.ends_with(".vtt");
    if (segment) {
      CHECK(h["cache-control"].find("immutable") != std::string::npos);
    } else {
      CHECK(h["cache-control"].find("immutable") == std::string::npos);
      CHECK_FALSE(h["cache-control"].empty());
    }
  }

  // The order the server saw.
  auto spans = puts_seen(proxy.events(), "/media/out/job1/");
  REQUIRE(spans.size() == expected.size());
  auto find = [&](const std::string& k) {
    auto it = std::find_if(spans.begin(), spans.end(), [&](const put_span& p) { return p.key == k; });
    REQUIRE(it != spans.end());
    return *it;
  };
  const auto result = find("result.json");
  for (const auto& p : spans)
    if (p.key != "result.json") CHECK(p.end < result.start);
  for (const auto& m : manifest_files)
    for (const auto& f : segment_files) {
      INFO(m << " after " << f);
      CHECK(find(f).end < find(m).start);
    }
  CHECK(find("720p/index.m3u8").end < find("master.m3u8").start);
  CHECK(find("audio/index.m3u8").end < find("master.m3u8").start);
}

TEST_CASE("A large S3 package file goes up in parts", "[s3]") {
  spool::test::aws::temp_directory tmp("spool-s3-package");
  auto server = s3test::fauxqs_service::start();
  s3test::recording_proxy proxy(s3test::port_of(server.endpoint));
  auto o = s3test::options_for(proxy.endpoint());
  o.multipart_threshold = 6 << 20;
  o.part_size = 5 << 20;
  auto client = std::make_shared<s3_client>(o);
  s3test::create_bucket(*client, "media");
  auto data = s3test::random_bytes((11 << 20) + 3, 5);
  auto file = write_file(tmp.path() / "720p.mp4", data);
  auto small = s3test::random_bytes(100 * 1024, 6);
  auto small_file = write_file(tmp.path() / "audio.mp4", small);

  auto sink = open_s3_package(client, "media/out/job2", false);
  REQUIRE(sink.has_value());
  REQUIRE_FALSE((*sink)->put_file("720p.mp4", file));
  REQUIRE_FALSE((*sink)->put_file("audio.mp4", small_file));
  REQUIRE_FALSE((*sink)->put_manifest("result.json", "{}\n"));
  REQUIRE_FALSE((*sink)->commit({}));
  CHECK_FALSE(fs::exists(file));  // the sink took the file, as a move would

  CHECK(get(server.endpoint + "/media/out/job2/720p.mp4") ==
        std::string(reinterpret_cast<const char*>(data.data()), data.size()));
  CHECK(get(server.endpoint + "/media/out/job2/audio.mp4") ==
        std::string(reinterpret_cast<const char*>(small.data()), small.size()));
  int parts = 0, creates = 0, small_puts = 0;
  for (const auto& e : proxy.events()) {
    if (!e.request) continue;
    if (e.text.starts_with("PUT /media/out/job2/720p.mp4?partNumber=")) ++parts;
    if (e.text.starts_with("POST /media/out/job2/720p.mp4?uploads")) ++creates;
    if (e.text.starts_with("PUT /media/out/job2/audio.mp4 ")) ++small_puts;
  }
  CHECK(creates == 1);
  CHECK(parts == 3);       // 5 MiB + 5 MiB + 1 MiB and 3 bytes
  CHECK(small_puts == 1);  // under the threshold: one PUT
  CHECK(head(server.endpoint + "/media/out/job2/720p.mp4")["etag"].ends_with("-3\""));
}

TEST_CASE("Aborting an S3 package removes what it wrote, the status stays", "[s3]") {
  spool::test::aws::temp_directory tmp("spool-s3-package");
  auto server = s3test::fauxqs_service::start();
  auto o = s3test::options_for(server.endpoint);
  o.multipart_threshold = 6 << 20;
  o.part_size = 5 << 20;
  auto client = std::make_shared<s3_client>(o);
  s3test::create_bucket(*client, "media");
  REQUIRE_FALSE(client->put("media", "out/job3/status.json", "{}", {{"Content-Type", "application/json"}}));
  REQUIRE_FALSE(client->put("media", "out/other/seg.m4s", "x", {{"Content-Type", "video/mp4"}}));

  auto sink = open_s3_package(client, "media/out/job3", false);
  REQUIRE(sink.has_value());
  for (const auto& f : segment_files) REQUIRE_FALSE((*sink)->put(f, bytes_of(s3test::random_bytes(5000, 1))));
  REQUIRE_FALSE((*sink)->put_file("720p.mp4", write_file(tmp.path() / "big.mp4", s3test::random_bytes(7 << 20, 2))));
  REQUIRE_FALSE((*sink)->put_manifest("master.m3u8", "#EXTM3U\n"));
  REQUIRE_FALSE((*sink)->publish_now());  // visible now...
  CHECK(listed(server.endpoint, "media", "out/job3/").count("out/job3/master.m3u8") == 1);
  (*sink)->abort();  // ...and gone again
  CHECK(listed(server.endpoint, "media", "out/job3/") == std::set<std::string>{"out/job3/status.json"});
  CHECK(listed(server.endpoint, "media", "out/other/") == std::set<std::string>{"out/other/seg.m4s"});
  CHECK((*sink)->put("x.m4s", bytes_of(s3test::random_bytes(10, 3))).code == errc::cancelled);
}

TEST_CASE("A failed upload keeps every manifest unpublished", "[s3]") {
  auto server = s3test::fauxqs_service::start();
  auto client = std::make_shared<s3_client>(s3test::options_for(server.endpoint));
  s3test::create_bucket(*client, "media");
  auto sink = open_s3_package(client, "media/out/job4", false);
  REQUIRE(sink.has_value());
  REQUIRE_FALSE((*sink)->put("720p/seg_00001.m4s", bytes_of(s3test::random_bytes(1000, 1))));
  (void)(*sink)->put("720p/seg_00002.m4s", bytes_of(s3test::random_bytes(12 << 20, 2)));
  REQUIRE_FALSE((*sink)->put_manifest("720p/index.m3u8", "#EXTM3U\n"));
  REQUIRE_FALSE((*sink)->put_manifest("result.json", "{}\n"));
  auto e = (*sink)->commit({});
  REQUIRE(e);
  auto keys = listed(server.endpoint, "media", "out/job4/");
  CHECK(keys.count("out/job4/720p/index.m3u8") == 0);
  CHECK(keys.count("out/job4/result.json") == 0);
  (*sink)->abort();
  CHECK(listed(server.endpoint, "media", "out/job4/").empty());
}

TEST_CASE("The S3 upload queue never holds more than its bytes", "[s3]") {
  auto server = s3test::fauxqs_service::start();
  auto o = s3test::options_for(server.endpoint);
  o.upload_queue_bytes = 1 << 20;
  o.upload_threads = 2;
  auto client = std::make_shared<s3_client>(o);
  s3test::create_bucket(*client, "media");
  auto opened = open_s3_package(client, "media/out/job5", false);
  REQUIRE(opened.has_value());
  auto& sink = dynamic_cast<s3_package&>(**opened);
  std::set<std::string> expected;
  for (int i = 1; i <= 24; ++i) {
    auto name = "720p/" + package_layout::segment_file(static_cast<std::size_t>(i));
    REQUIRE_FALSE(sink.put(name, bytes_of(s3test::random_bytes(300 * 1024, static_cast<unsigned>(i)))));
    expected.insert("out/job5/" + name);
  }
  REQUIRE_FALSE(sink.put_manifest("result.json", "{}\n"));
  REQUIRE_FALSE(sink.commit({}));
  expected.insert("out/job5/result.json");
  CHECK(listed(server.endpoint, "media", "out/job5/") == expected);
  CHECK(sink.peak_queued_bytes() <= (1 << 20));
  CHECK(sink.peak_queued_bytes() >= 300 * 1024);
}

TEST_CASE("An S3 prefix holding a package is output_exists unless overwriting", "[s3]") {
  auto server = s3test::fauxqs_service::start();
  auto client = std::make_shared<s3_client>(s3test::options_for(server.endpoint));
  s3test::create_bucket(*client, "media");
  // Leftovers of an attempt that never finished: no result.json, so the prefix is free.
  REQUIRE_FALSE(client->put("media", "out/job6/720p/seg_00001.m4s", "x", {{"Content-Type", "video/mp4"}}));
  CHECK(open_s3_package(client, "media/out/job6", false).has_value());
  REQUIRE_FALSE(
      client->put("media", "out/job6/result.json", "{\"job\":\"old\"}", {{"Content-Type", "application/json"}}));
  auto refused = open_s3_package(client, "media/out/job6/", false);
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().code == errc::output_exists);
  auto replacing = open_s3_package(client, "media/out/job6", true);
  REQUIRE(replacing.has_value());
  // The old completion marker is gone before anything new is written.
  CHECK(listed(server.endpoint, "media", "out/job6/").count("out/job6/result.json") == 0);
  REQUIRE_FALSE((*replacing)->put("720p/seg_00002.m4s", bytes_of(s3test::random_bytes(10, 1))));
  REQUIRE_FALSE((*replacing)->put_manifest("result.json", "{\"job\":\"new\"}\n"));
  REQUIRE_FALSE((*replacing)->commit({}));
  // The new package only: the old one's segment is gone.
  CHECK(listed(server.endpoint, "media", "out/job6/") ==
        std::set<std::string>{"out/job6/720p/seg_00002.m4s", "out/job6/result.json"});
  CHECK(get(server.endpoint + "/media/out/job6/result.json") == "{\"job\":\"new\"}\n");
  // A package that appears while this one is written is not overwritten at commit.
  auto first = open_s3_package(client, "media/out/job7", false);
  REQUIRE(first.has_value());
  REQUIRE_FALSE(client->put("media", "out/job7/result.json", "{}", {{"Content-Type", "application/json"}}));
  REQUIRE_FALSE((*first)->put_manifest("result.json", "{\"mine\":true}\n"));
  CHECK((*first)->commit({}).code == errc::output_exists);
}
