// Storage by scheme and the local backend's contract, without the media engine: what resolve() gives,
// what a package sink shows before and after commit, what a status sink writes, lists and reads.
#include <spool/package_layout.hpp>
#include <spool/storage/store.hpp>

#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <filesystem>
#include <span>
#include <string>

#include "fixtures.hpp"
#include "lavfi_input.hpp"
#include "package_inspect.hpp"

namespace fs = std::filesystem;
namespace storage = spool::storage;
using namespace spool::test;

namespace {

std::span<const std::byte> bytes_of(const std::string& s) { return std::as_bytes(std::span(s.data(), s.size())); }

// A backend that holds nothing: enough to register a scheme and see the defaults answer.
class empty_store final : public storage::store {
 public:
  storage::capabilities caps() const noexcept override { return {}; }
  spool::result<std::unique_ptr<spool::io::byte_source>> open_source(std::string_view,
                                                                     const storage::source_options&) override {
    return spool::error(spool::errc::input_unreadable, "nothing here");
  }
};

}  // namespace

TEST_CASE("Storage::Resolve: paths, file:// URIs, https and unknown schemes", "[storage]") {
  auto plain = storage::resolve("relative/dir");
  REQUIRE(plain);
  CHECK(plain->path == "relative/dir");
  CHECK(plain->backend->caps().write);
  auto file = storage::resolve("file:///srv/packages/lecture%2042");
  REQUIRE(file);
  CHECK(file->path == "/srv/packages/lecture 42");
  CHECK(file->backend == plain->backend);  // one local backend
  auto localhost = storage::resolve("file://localhost/srv/x");
  REQUIRE(localhost);
  CHECK(localhost->path == "/srv/x");
  auto https = storage::resolve("https://media.example.edu/lecture.mp4?X-Amz-Signature=s");
  REQUIRE(https);
  CHECK_FALSE(https->backend->caps().write);  // read only
  CHECK(https->backend->open_package(https->path, {}).error().code == spool::errc::feature_unsupported);

  for (const char* bad : {"ftp://host/x", "http://host/x", "s4://bucket/key"}) {
    INFO(bad);
    auto r = storage::resolve(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == spool::errc::protocol_not_allowed);
  }
  auto remote = storage::resolve("file://otherhost/x");
  REQUIRE_FALSE(remote);
  CHECK(remote.error().code == spool::errc::protocol_not_allowed);
  CHECK(storage::resolve("").error().code == spool::errc::invalid_argument);
}

TEST_CASE("Storage::Register: a third party adds a scheme, taken and malformed ones are usage errors", "[storage]") {
  auto backend = std::make_shared<empty_store>();
  REQUIRE_FALSE(
      storage::register_scheme("memtest", [backend](std::string_view uri) -> spool::result<storage::location> {
        return storage::location{backend, std::string(uri.substr(uri.find("://") + 3))};
      }));
  auto r = storage::resolve("MemTest://a/b");  // schemes ignore case
  REQUIRE(r);
  CHECK(r->backend == backend);
  CHECK(r->path == "a/b");
  // The optional operations answer "not supported" unless the backend says otherwise.
  CHECK(r->backend->open_status(r->path).error().code == spool::errc::feature_unsupported);
  CHECK(r->backend->list(r->path).error().code == spool::errc::feature_unsupported);
  CHECK(r->backend->presign(r->path, "GET", std::chrono::seconds(60)).error().code == spool::errc::feature_unsupported);

  CHECK(storage::register_scheme("memtest", [](std::string_view) -> spool::result<storage::location> {
          return spool::error(spool::errc::internal);
        }).code == spool::errc::already_registered);
  CHECK(storage::register_scheme("file", [](std::string_view) -> spool::result<storage::location> {
          return spool::error(spool::errc::internal);
        }).code == spool::errc::already_registered);  // the built-ins registered the same way
  CHECK(storage::register_scheme("no spaces", [](std::string_view) -> spool::result<storage::location> {
          return spool::error(spool::errc::internal);
        }).code == spool::errc::invalid_argument);
  CHECK(storage::register_scheme("nofactory", {}).code == spool::errc::invalid_argument);
}

TEST_CASE("Storage::Local: nothing of a package is visible before commit, and all of it after", "[storage]") {
  scratch_dir dir("store-commit");
  auto where = storage::resolve((dir / "pkg").string()).value();
  auto sink = where.backend->open_package(where.path, {}).value();
  REQUIRE_FALSE(sink->put("360p/init.mp4", bytes_of("init")));
  REQUIRE_FALSE(sink->put("360p/seg_00001.m4s", bytes_of("segment")));
  write_text(dir / "work.mp4", "progressive");
  REQUIRE_FALSE(sink->put_file("360p.mp4", dir / "work.mp4"));
  REQUIRE_FALSE(sink->put_manifest("master.m3u8", "#EXTM3U\n"));
  REQUIRE_FALSE(sink->put_manifest("result.json", "{}\n"));
  CHECK_FALSE(fs::exists(dir / "pkg"));
  CHECK_FALSE(fs::exists(dir / "work.mp4"));  // moved in, not copied
  REQUIRE_FALSE(sink->commit());
  CHECK(read_file(dir / "pkg" / "360p" / "seg_00001.m4s") == "segment");
  CHECK(read_file(dir / "pkg" / "360p.mp4") == "progressive");
  CHECK(read_file(dir / "pkg" / "result.json") == "{}\n");
  CHECK(temp_leftovers(dir.path()).empty());
  // read_file and list see the published package.
  CHECK(*where.backend->read_file((dir / "pkg" / "result.json").string()).value() == "{}\n");
  CHECK_FALSE(where.backend->read_file((dir / "pkg" / "nope.json").string()).value().has_value());
  auto names = where.backend->list(where.path).value();
  REQUIRE(names);
  CHECK(names->size() == 4);
}

TEST_CASE("Storage::Local: a package never writes outside its folder", "[storage]") {
  scratch_dir dir("store-escape");
  auto where = storage::resolve((dir / "pkg").string()).value();
  auto sink = where.backend->open_package(where.path, {}).value();
  for (const char* name : {"../escape", "/etc/x", "a/../../b", ""}) {
    INFO("'" << name << "'");
    CHECK(sink->put(name, bytes_of("x")).code == spool::errc::internal);
  }
  sink->abort();
  CHECK_FALSE(fs::exists(dir / "escape"));
  CHECK(list_dir(dir.path()).empty());
}

TEST_CASE("Storage::Local: an existing package is refused unless replaced, and replaced whole", "[storage]") {
  scratch_dir dir("store-replace");
  const auto out = dir / "pkg";
  auto where = storage::resolve(out.string()).value();
  {
    auto sink = where.backend->open_package(where.path, {}).value();
    REQUIRE_FALSE(sink->put_manifest("result.json", "old"));
    REQUIRE_FALSE(sink->commit());
  }
  auto refused = where.backend->open_package(where.path, {});
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code == spool::errc::output_exists);
  storage::package_options replace;
  replace.overwrite = true;
  auto sink = where.backend->open_package(where.path, replace).value();
  REQUIRE_FALSE(sink->put_manifest("result.json", "new"));
  CHECK(read_file(out / "result.json") == "old");
  REQUIRE_FALSE(sink->commit());
  CHECK(read_file(out / "result.json") == "new");
  CHECK(list_dir(out) == std::vector<std::string>{"result.json"});
  CHECK(temp_leftovers(dir.path()).empty());
}

TEST_CASE("Storage::Local: a path that is not a folder is no place for a package", "[storage]") {
  scratch_dir dir("store-file");
  write_text(dir / "pkg", "a file");
  auto where = storage::resolve((dir / "pkg").string()).value();
  CHECK(where.backend->open_package(where.path, {}).error().code == spool::errc::output_exists);
  CHECK(where.backend->list(where.path).error().code == spool::errc::output_exists);
}

TEST_CASE("Storage::Local: status temporaries are not the folder's content", "[storage]") {
  scratch_dir dir("store-list");
  auto where = storage::resolve(dir.path().string()).value();
  spool::job_status s;
  s.job_id = "j1";
  REQUIRE_FALSE(where.backend->open_status(where.path).value()->write(s));
  write_text(dir / ".status.json.tmp-AbC123", "{");  // a writer in progress, or one that crashed
  auto names = where.backend->list(where.path).value();
  REQUIRE(names);
  CHECK(*names == std::vector<std::string>{"status.json"});
  auto back = where.backend->open_status(where.path).value()->read().value();
  REQUIRE(back);
  CHECK(back->job_id == "j1");
}

TEST_CASE("Storage::Local: sources are regular files, read at any offset", "[storage]") {
  scratch_dir dir("store-source");
  write_text(dir / "in.bin", "0123456789");
  auto where = storage::resolve((dir / "in.bin").string()).value();
  auto src = where.backend->open_source(where.path, {}).value();
  CHECK(src->size() == 10);
  std::byte buf[4];
  CHECK(*src->read_at(6, buf) == 4);
  CHECK(std::string(reinterpret_cast<const char*>(buf), 4) == "6789");
  CHECK(*src->read_at(10, buf) == 0);
  CHECK(*src->read_at(2, buf) == 4);
  CHECK(std::string(reinterpret_cast<const char*>(buf), 4) == "2345");
  auto missing = where.backend->open_source((dir / "none.bin").string(), {});
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == spool::errc::input_unreadable);
  REQUIRE(::mkfifo((dir / "fifo").c_str(), 0600) == 0);
  auto fifo = where.backend->open_source((dir / "fifo").string(), {});
  REQUIRE_FALSE(fifo);
  CHECK(fifo.error().what().find("not a regular file") != std::string::npos);
}
