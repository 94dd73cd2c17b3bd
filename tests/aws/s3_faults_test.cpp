// S3 publishing and reading through a loopback proxy that misbehaves on request (SlowDown, 500s,
// resets, slow or cut answers): each ends in a retry that completes the work, or in a clear network
// error after which the bucket holds nothing of the attempt and no result.json. What the bucket holds
// is read straight from the emulator, never through the proxy or spool.
#include <spool/aws/s3.hpp>
#include <spool/input_policy.hpp>
#include <spool/job.hpp>
#include <spool/package_layout.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <regex>
#include <set>
#include <thread>

#include "aws/s3_package.hpp"
#include "aws/s3_request.hpp"
#include "aws/s3_source.hpp"
#include "s3_fixture.hpp"
#include "support/fault_proxy.hpp"

using namespace spool;
using namespace spool::aws;
using spool::test::aws::fault;
using spool::test::aws::fault_proxy;
using namespace std::chrono_literals;

namespace {

constexpr const char* secret = "faults-secret-Zq8pW3";

const std::string& emulator() {
  // One fauxqs for this file's cases (each uses a prefix of its own); stopped at exit by its pid.
  static const auto service = s3test::fauxqs_service::start();
  return service.endpoint;
}

// Unsigned calls straight to the emulator (fauxqs checks no signature).
http_response direct(const std::string& method, const std::string& target, std::string body = {}) {
  static http_client http;
  http_request rq;
  rq.method = method;
  rq.url = emulator() + target;
  rq.body = std::move(body);
  auto r = http.send(rq);
  REQUIRE(r.has_value());
  return *r;
}

void ensure_bucket(const std::string& bucket) {
  static std::set<std::string> made;
  if (made.insert(bucket).second) REQUIRE(direct("PUT", "/" + bucket).status / 100 == 2);
}

std::set<std::string> listed(const std::string& bucket, const std::string& prefix) {
  auto r = direct("GET", "/" + bucket + "?list-type=2&prefix=" + prefix);
  REQUIRE(r.status == 200);
  std::set<std::string> keys;
  std::regex key("<Key>([^<]*)</Key>");
  for (std::sregex_iterator it(r.body.begin(), r.body.end(), key), end; it != end; ++it) keys.insert((*it)[1].str());
  return keys;
}

std::string text(const std::vector<std::byte>& v) { return {reinterpret_cast<const char*>(v.data()), v.size()}; }

// Retries quick enough for a test; `idle` bounds a silent request.
service_options tuning(int attempts, std::chrono::milliseconds idle = 10s) {
  service_options so;
  so.retry.max_attempts = attempts;
  so.retry.base = 5ms;
  so.retry.cap = 50ms;
  so.http.idle_timeout = idle;
  return so;
}

std::shared_ptr<s3_client> client_through(const fault_proxy& proxy, const service_options& so) {
  auto o = s3test::options_for(proxy.endpoint(), "AKIDFAULTS", secret);
  o.upload_threads = 3;
  return std::make_shared<s3_client>(o, so);
}

// A small synthetic package: segment bytes and manifest texts.
struct package_content {
  std::map<std::string, std::vector<std::byte>> segments;
  std::vector<std::pair<std::string, std::string>> manifests;
};

package_content sample_package() {
  package_content p;
  const std::vector<std::string> names = {"720p/init.mp4",       "720p/seg_00001.m4s", "720p/seg_00002.m4s",
                                          "720p/seg_00003.m4s",  "audio/init.mp4",     "audio/seg_00001.m4s",
                                          "audio/seg_00002.m4s", "poster.jpg"};
  unsigned seed = 40;
  for (const auto& n : names) {
    p.segments[n] = s3test::random_bytes(9000 + seed * 37, seed);
    ++seed;
  }
  for (const char* m : {"720p/index.m3u8", "audio/index.m3u8", "master.m3u8", "manifest.mpd", "result.json"})
    p.manifests.emplace_back(m, std::string("text of ") + m + "\n");
  return p;
}

// Puts every file and commits; the first error met (a put may already report an upload's failure).
error publish(io::package_sink& sink, const package_content& p) {
  for (const auto& [name, bytes] : p.segments)
    if (auto e = sink.put(name, {bytes.data(), bytes.size()})) return e;
  for (const auto& [name, body] : p.manifests)
    if (auto e = sink.put_manifest(name, body)) return e;
  return sink.commit({});
}

// How many requests the proxy saw that start with `line` ("PUT /media/p/720p/seg_00001.m4s").
int seen(const fault_proxy& proxy, const std::string& line) {
  auto all = proxy.seen();
  return static_cast<int>(std::count_if(all.begin(), all.end(), [&](const std::string& s) {
    return s == line || s.starts_with(line + "?") || s.starts_with(line + " ");
  }));
}

}  // namespace

TEST_CASE("Aws::S3::Faults: SlowDown, 500s and resets during a publish are retried and the package is whole",
          "[aws][faults]") {
  ensure_bucket("media");
  fault_proxy proxy(emulator());
  const std::string prefix = "faults/whole/";
  const std::string put = "PUT /media/" + prefix;
  proxy.script_for(put + "720p/seg_00001.m4s", {fault::s3_slow_down(), fault::s3_slow_down()});
  proxy.script_for(put + "audio/seg_00002.m4s", {fault::s3_slow_down()});
  proxy.script_for(put + "720p/seg_00003.m4s", {fault::connection_reset()});
  proxy.script_for(put + "master.m3u8", {fault::internal_error()});
  // Stored, then the answer is lost: the retry stores the same bytes again.
  proxy.script_for(put + "720p/index.m3u8", {fault::reset_after_forwarding()});
  auto client = client_through(proxy, tuning(4));
  const auto content = sample_package();

  auto sink = open_s3_package(client, "media/" + prefix, false);
  REQUIRE(sink.has_value());
  auto e = publish(**sink, content);
  INFO(e.what());
  REQUIRE_FALSE(e);

  CHECK(proxy.pending() == 0);
  CHECK(seen(proxy, put + "720p/seg_00001.m4s") == 3);
  CHECK(seen(proxy, put + "audio/seg_00002.m4s") == 2);
  CHECK(seen(proxy, put + "720p/seg_00003.m4s") == 2);
  CHECK(seen(proxy, put + "master.m3u8") == 2);
  CHECK(seen(proxy, put + "720p/index.m3u8") == 2);
  CHECK(seen(proxy, put + "720p/init.mp4") == 1);

  std::set<std::string> expected;
  for (const auto& [name, bytes] : content.segments) expected.insert(prefix + name);
  for (const auto& [name, body] : content.manifests) expected.insert(prefix + name);
  CHECK(listed("media", prefix) == expected);
  for (const auto& [name, bytes] : content.segments) {
    INFO(name);
    CHECK(direct("GET", "/media/" + prefix + name).body == text(bytes));
  }
  for (const auto& [name, body] : content.manifests) {
    INFO(name);
    CHECK(direct("GET", "/media/" + prefix + name).body == body);
  }
}

TEST_CASE("Aws::S3::Faults: a segment refused past the retries fails the publish and leaves only status.json",
          "[aws][faults]") {
  ensure_bucket("media");
  fault_proxy proxy(emulator());
  const std::string prefix = "faults/refused/";
  const std::string key = "720p/seg_00002.m4s";
  auto client = client_through(proxy, tuning(3));
  auto store = make_resolved_s3_store(client->options());
  REQUIRE(store.has_value());
  // The worker's record of the job, written before the attempt; abort() leaves it (docs/s3.md).
  auto status = (*store)->open_status("media/" + prefix);
  REQUIRE(status.has_value());
  REQUIRE_FALSE((*status)->write(job_status{}));
  std::vector<fault> refusals(50, fault::internal_error());
  proxy.script_for("PUT /media/" + prefix + key, refusals);

  auto sink = open_s3_package(client, "media/" + prefix, false);
  REQUIRE(sink.has_value());
  auto e = publish(**sink, sample_package());
  REQUIRE(e);
  CHECK(e.code == errc::network);
  CHECK_THAT(e.what(), Catch::Contains(prefix + key) && Catch::Contains("InternalError"));
  CHECK_THAT(e.what(), !Catch::Contains(secret));
  (*sink)->abort();  // as the worker does when a commit fails

  const int tries = seen(proxy, "PUT /media/" + prefix + key);
  CHECK(tries > 1);                                                 // retried
  CHECK(proxy.pending() == 50u - static_cast<std::size_t>(tries));  // and then given up
  CHECK(listed("media", prefix) == std::set<std::string>{prefix + std::string(package_layout::status)});
}

TEST_CASE("Aws::S3::Faults: result.json stored but never acknowledged fails the commit and is removed by abort",
          "[aws][faults]") {
  ensure_bucket("media");
  fault_proxy proxy(emulator());
  const std::string prefix = "faults/unacknowledged/";
  std::vector<fault> lost(50, fault::reset_after_forwarding());
  proxy.script_for("PUT /media/" + prefix + "result.json", lost);
  auto client = client_through(proxy, tuning(3));

  auto sink = open_s3_package(client, "media/" + prefix, false);
  REQUIRE(sink.has_value());
  auto e = publish(**sink, sample_package());
  REQUIRE(e);
  CHECK(e.code == errc::network);
  CHECK_THAT(e.what(), Catch::Contains(prefix + "result.json"));
  CHECK_THAT(e.what(), !Catch::Contains(secret));
  // Each lost answer was for a PUT the emulator applied: result.json was there until abort().
  CHECK(listed("media", prefix).count(prefix + "result.json") == 1);
  (*sink)->abort();
  CHECK(listed("media", prefix).empty());
}

TEST_CASE("Aws::S3::Faults: a slow answer within the idle timeout is waited for", "[aws][faults]") {
  ensure_bucket("media");
  fault_proxy proxy(emulator());
  const std::string prefix = "faults/slow/";
  proxy.script_for("PUT /media/" + prefix + "720p/seg_00001.m4s", {fault::delayed(400ms)});
  proxy.script_for("PUT /media/" + prefix + "result.json", {fault::delayed(400ms)});
  auto client = client_through(proxy, tuning(1, 3s));  // one attempt: success means it was waited for
  const auto content = sample_package();

  auto sink = open_s3_package(client, "media/" + prefix, false);
  REQUIRE(sink.has_value());
  auto e = publish(**sink, content);
  INFO(e.what());
  REQUIRE_FALSE(e);
  CHECK(proxy.pending() == 0);
  CHECK(listed("media", prefix).size() == content.segments.size() + content.manifests.size());
  CHECK(direct("GET", "/media/" + prefix + "720p/seg_00001.m4s").body ==
        text(content.segments.at("720p/seg_00001.m4s")));
}

TEST_CASE("Aws::S3::Faults: an answer slower than the idle timeout is a network error and no result.json",
          "[aws][faults]") {
  ensure_bucket("media");
  fault_proxy proxy(emulator());
  const std::string prefix = "faults/silent/";
  const std::string key = "audio/seg_00001.m4s";
  constexpr auto silence = 1500ms;
  proxy.script_for("PUT /media/" + prefix + key, {fault::delayed(silence), fault::delayed(silence)});
  auto client = client_through(proxy, tuning(2, 250ms));

  auto sink = open_s3_package(client, "media/" + prefix, false);
  REQUIRE(sink.has_value());
  auto e = publish(**sink, sample_package());
  REQUIRE(e);
  CHECK(e.code == errc::network);
  CHECK_THAT(e.what(), Catch::Contains(prefix + key) && Catch::Contains("no progress"));
  CHECK_THAT(e.what(), !Catch::Contains(secret));
  (*sink)->abort();
  CHECK(seen(proxy, "PUT /media/" + prefix + key) == 2);
  // The proxy still forwards the delayed PUTs after the client gave up (as S3 may apply a request
  // whose answer nobody waits for); whatever they leave, the package never gets its result.json.
  std::this_thread::sleep_for(silence + 200ms);
  const auto left = listed("media", prefix);
  CHECK(left.count(prefix + "result.json") == 0);
  CHECK(left.count(prefix + "master.m3u8") == 0);
}

TEST_CASE("Aws::S3::Faults: ranged reads through SlowDown, resets and a cut answer give the object's bytes",
          "[aws][faults]") {
  ensure_bucket("media");
  const auto object = s3test::random_bytes((3 << 20) + 77, 99);
  REQUIRE(direct("PUT", "/media/faults/input/clip.bin", text(object)).status == 200);
  fault_proxy proxy(emulator());
  const std::string get = "GET /media/faults/input/clip.bin";
  // The first GETs: half a body then a reset, a SlowDown, a reset before the request goes on.
  proxy.script_for(get, {fault::cut_answer(), fault::s3_slow_down(), fault::connection_reset()});
  auto o = s3test::options_for(proxy.endpoint(), "AKIDFAULTS", secret);
  o.read_window = 1 << 20;  // half a window is many reads: the cut comes after some were taken
  auto client = std::make_shared<s3_client>(o, tuning(4));
  input_policy policy;
  policy.s3_prefixes = {"media/faults/"};

  auto source = open_s3_source(client, "media/faults/input/clip.bin", policy, {});
  REQUIRE(source.has_value());
  REQUIRE((*source)->size() == static_cast<std::int64_t>(object.size()));
  std::vector<std::byte> read(object.size());
  std::size_t at = 0;
  while (at < read.size()) {
    auto n = (*source)->read_at(static_cast<std::int64_t>(at),
                                {read.data() + at, std::min<std::size_t>(10'000, read.size() - at)});
    INFO("at " << at << ": " << (n ? "" : n.error().what()));
    REQUIRE(n.has_value());
    REQUIRE(*n > 0);
    at += *n;
  }
  CHECK(proxy.pending() == 0);
  CHECK(seen(proxy, get) > (*source)->gets());  // the faults cost GETs of their own
  CHECK(read == object);
}
