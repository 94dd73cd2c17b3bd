// The S3 store: status.json beside the package (write, create only once, read), small files read
// back, folders listed, inputs opened through the store.
#include <spool/aws/s3.hpp>
#include <spool/storage/store.hpp>

#include <catch2/catch.hpp>

#include <array>
#include <cstdlib>
#include <optional>
#include <set>

#include "aws/schemes.hpp"
#include "s3_fixture.hpp"

using namespace spool;
using namespace spool::aws;

namespace {

job_status status_of(const std::string& id, job_state state) {
  job_status s;
  s.job_id = id;
  s.state = state;
  s.attempt = 1;
  s.updated_at = std::chrono::system_clock::now();
  return s;
}

std::shared_ptr<storage::store> store_at(const s3_options& o) {
  auto s = make_resolved_s3_store(o);
  REQUIRE(s.has_value());
  return *s;
}

void check_status_round_trip(storage::store& store, const std::string& path) {
  auto sink = store.open_status(path);
  REQUIRE(sink.has_value());
  auto none = (*sink)->read();
  REQUIRE(none.has_value());
  CHECK_FALSE(none->has_value());
  REQUIRE_FALSE((*sink)->create(status_of("job-1", job_state::queued)));
  auto again = (*sink)->create(status_of("job-2", job_state::queued));
  CHECK(again.code == errc::output_exists);
  auto read = (*sink)->read();
  REQUIRE(read.has_value());
  REQUIRE(read->has_value());
  CHECK((*read)->job_id == "job-1");  // the second create changed nothing
  REQUIRE_FALSE((*sink)->write(status_of("job-1", job_state::running)));
  read = (*sink)->read();
  REQUIRE(read.has_value());
  REQUIRE(read->has_value());
  CHECK((*read)->state == job_state::running);
}

}  // namespace

TEST_CASE("S3 status.json: create once (check, then put), write, read", "[s3]") {
  auto server = s3test::fauxqs_service::start();
  auto o = s3test::options_for(server.endpoint);
  o.conditional_writes = false;
  s3test::create_bucket(*std::make_shared<s3_client>(o), "media");
  auto store = store_at(o);
  check_status_round_trip(*store, "media/out/job1");
  auto text = store->read_file("media/out/job1/status.json");
  REQUIRE(text.has_value());
  REQUIRE(text->has_value());
  CHECK(parse_job_status(**text).has_value());
}

TEST_CASE("S3 status.json: create once with If-None-Match", "[s3]") {
  auto server = s3test::start_moto_or_skip();  // honours If-None-Match: *
  if (!server) return;
  auto o = s3test::options_for(server->endpoint);
  REQUIRE(o.conditional_writes);
  s3test::create_bucket(*std::make_shared<s3_client>(o), "media");
  auto store = store_at(o);
  check_status_round_trip(*store, "media/out/job1");
}

TEST_CASE("The S3 store reads small files back and lists folders", "[s3]") {
  auto server = s3test::fauxqs_service::start();
  auto o = s3test::options_for(server.endpoint);
  auto client = std::make_shared<s3_client>(o);
  s3test::create_bucket(*client, "media");
  for (const char* k : {"out/a/result.json", "out/a/status.json", "out/a/720p/seg_00001.m4s", "out/ab/x", "out/file"})
    REQUIRE_FALSE(client->put("media", k, std::string("content of ") + k, {{"Content-Type", "application/json"}}));
  auto store = store_at(o);
  CHECK(store->caps().write);
  CHECK_FALSE(store->caps().atomic_publish);
  CHECK(store->caps().incremental_publish);

  auto text = store->read_file("media/out/a/result.json");
  REQUIRE(text.has_value());
  CHECK(*text == std::optional<std::string>("content of out/a/result.json"));
  auto missing = store->read_file("media/out/a/none.json");
  REQUIRE(missing.has_value());
  CHECK_FALSE(missing->has_value());

  auto names = store->list("media/out/a");
  REQUIRE(names.has_value());
  REQUIRE(names->has_value());
  std::set<std::string> got((*names)->begin(), (*names)->end());
  CHECK(got == std::set<std::string>{"result.json", "status.json", "720p"});
  auto nothing = store->list("media/out/none");
  REQUIRE(nothing.has_value());
  CHECK_FALSE(nothing->has_value());
  auto file = store->list("media/out/file");
  REQUIRE_FALSE(file.has_value());
  CHECK(file.error().code == errc::output_exists);
}

TEST_CASE("The S3 store opens inputs under the policy", "[s3]") {
  auto server = s3test::fauxqs_service::start();
  auto o = s3test::options_for(server.endpoint);
  auto client = std::make_shared<s3_client>(o);
  s3test::create_bucket(*client, "media");
  REQUIRE_FALSE(client->put("media", "in/x.mp4", "0123456789", {{"Content-Type", "video/mp4"}}));
  auto store = store_at(o);
  storage::source_options so;
  CHECK(store->open_source("media/in/x.mp4", so).error().code == errc::protocol_not_allowed);
  so.policy.s3_prefixes = {"media/in/"};
  auto src = store->open_source("media/in/x.mp4", so);
  REQUIRE(src.has_value());
  std::array<std::byte, 4> buf{};
  auto n = (*src)->read_at(3, buf);
  REQUIRE(n.has_value());
  CHECK(std::string(reinterpret_cast<const char*>(buf.data()), *n) == "3456");
}

TEST_CASE("make_s3_store takes the options it is given", "[s3]") {
  auto server = s3test::fauxqs_service::start();
  auto o = s3test::options_for(server.endpoint);
  s3test::create_bucket(*std::make_shared<s3_client>(o), "media");
  auto store = make_s3_store(o);
  REQUIRE(store.has_value());
  auto sink = (*store)->open_status("media/jobs/one");
  REQUIRE(sink.has_value());
  REQUIRE_FALSE((*sink)->write(status_of("one", job_state::running)));
  auto text = (*store)->read_file("media/jobs/one/status.json");
  REQUIRE(text.has_value());
  REQUIRE(text->has_value());
  CHECK(parse_job_status(**text)->job_id == "one");
}

TEST_CASE("s3:// resolves through the storage registry with the environment's settings", "[s3]") {
  auto server = s3test::fauxqs_service::start();
  s3test::create_bucket(*std::make_shared<s3_client>(s3test::options_for(server.endpoint)), "media");
  // The process environment, as a host's would be; put back as it was afterwards.
  const std::vector<std::pair<const char*, std::string>> vars = {{"AWS_REGION", "us-east-1"},
                                                                 {"AWS_ENDPOINT_URL_S3", server.endpoint},
                                                                 {"AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"},
                                                                 {"AWS_SECRET_ACCESS_KEY", "secret"}};
  std::vector<std::pair<const char*, std::optional<std::string>>> saved;
  for (const auto& [name, value] : vars) {
    const char* old = std::getenv(name);  // NOLINT(concurrency-mt-unsafe): no other thread runs here
    saved.emplace_back(name, old ? std::optional<std::string>(old) : std::nullopt);
    ::setenv(name, value.c_str(), 1);  // NOLINT(concurrency-mt-unsafe)
  }
  struct restore {
    decltype(saved)& s;
    ~restore() {
      for (const auto& [name, value] : s)
        value ? ::setenv(name, value->c_str(), 1) : ::unsetenv(name);  // NOLINT(concurrency-mt-unsafe)
    }
  } put_back{saved};

  register_s3_scheme();
  register_s3_scheme();  // once is enough; again is harmless
  auto where = storage::resolve("s3://media/jobs/two");
  REQUIRE(where.has_value());
  CHECK(where->path == "media/jobs/two");
  CHECK(where->backend->caps().incremental_publish);
  auto sink = where->backend->open_status(where->path);
  REQUIRE(sink.has_value());
  REQUIRE_FALSE((*sink)->create(status_of("two", job_state::queued)));
  auto back = where->backend->read_file(where->path + "/status.json");
  REQUIRE(back.has_value());
  REQUIRE(back->has_value());
  CHECK(parse_job_status(**back)->job_id == "two");
  CHECK(storage::resolve("s3://No_Such/x").error().code == errc::invalid_argument);
}
