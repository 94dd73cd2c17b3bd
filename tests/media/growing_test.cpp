// A package published progressively (packaging.publish = "progressive") into local storage, read from
// outside while it grows: it becomes visible once every rendition has a segment, every playlist a
// reader finds names only whole segments and lists a prefix of the finished one, and a cancelled or
// crashed job leaves nothing behind.
#include <spool/media/transcode.hpp>
#include <spool/storage/store.hpp>
#include <spool/transcode.hpp>

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "fixtures.hpp"
#include "lavfi_input.hpp"
#include "package_inspect.hpp"

namespace fs = std::filesystem;
using namespace spool::test;
namespace media = spool::media;

namespace {

fs::path make_source(const scratch_dir& dir, double duration_s) {
  input_spec spec;
  spec.duration_s = duration_s;
  const fs::path input = dir / "in.mp4";
  make_input(input, spec);
  return input;
}

media::transcode_options growing_options() {
  auto plan = small_plan({240, 180});
  plan.packaging.segment_s = 2;
  plan.packaging.gop_s = 2;
  plan.thumbnails.storyboard = false;
  plan.packaging.publish = "progressive";
  auto o = options_for(plan);
  o.publish_interval = std::chrono::milliseconds(0);
  return o;
}

// The whole text of a file, or nothing when it is not there.
std::optional<std::string> slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  if (!f) return std::nullopt;
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::vector<std::string> uri_lines(const std::string& playlist) {
  std::vector<std::string> out;
  std::istringstream in(playlist);
  for (std::string line; std::getline(in, line);)
    if (!line.empty() && line[0] != '#') out.push_back(line);
  return out;
}

std::string attribute(const std::string& line, const std::string& name) {
  auto at = line.find(name + "=\"");
  if (at == std::string::npos) return {};
  at += name.size() + 2;
  return line.substr(at, line.find('"', at) - at);
}

// Reads the output folder over and over while the job runs, as a player (or a CDN) would.
class reader {
 public:
  explicit reader(fs::path out) : out_(std::move(out)) {}

  void run(const std::atomic<bool>& stop) {
    while (!stop.load()) {
      read_once();
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

  void read_once() {
    // result.json first: what is read after it may be the finished package, never before it.
    const bool finished = fs::exists(out_ / "result.json");
    auto master = slurp(out_ / "master.m3u8");
    if (!master) return;
    ++reads;
    if (master->rfind("#EXTM3U\n", 0) != 0 || master->back() != '\n') problems.push_back("a torn master: " + *master);
    std::vector<std::string> playlists = uri_lines(*master);
    std::istringstream in(*master);
    for (std::string line; std::getline(in, line);)
      if (line.rfind("#EXT-X-MEDIA:", 0) == 0) playlists.push_back(attribute(line, "URI"));
    if (first_master.empty()) first_master = playlists;
    for (const auto& name : playlists) {
      auto text = slurp(out_ / name);
      if (!text) {
        problems.push_back("the master names " + name + ", which is not there");
        continue;
      }
      if (text->rfind("#EXTM3U\n", 0) != 0 || text->back() != '\n') problems.push_back("a torn playlist: " + name);
      const bool event = text->find("#EXT-X-PLAYLIST-TYPE:EVENT\n") != std::string::npos;
      const bool ended = text->find("#EXT-X-ENDLIST") != std::string::npos;
      if (event && (ended || text->find("#EXT-X-START:TIME-OFFSET=0") == std::string::npos))
        problems.push_back("an EVENT playlist that ends or does not start at 0: " + name);
      if (!event && !ended) problems.push_back("a playlist neither growing nor finished: " + name);
      if (event && finished) problems.push_back("a growing playlist after result.json: " + name);
      const fs::path dir = (out_ / name).parent_path();
      auto segments = uri_lines(*text);
      for (const auto& file : std::vector<std::string>{"init.mp4"}) segments.insert(segments.begin(), file);
      for (const auto& s : segments) {
        std::error_code ec;
        auto size = fs::file_size(dir / s, ec);
        if (ec)
          problems.push_back(name + " names " + s + ", which is not there");
        else
          sizes[dir / s].insert(size);
      }
      if (event) {
        growing[name].insert(uri_lines(*text));
        auto at = text->find("#EXT-X-TARGETDURATION:");
        if (at != std::string::npos) targets[name].insert(text->substr(at, text->find('\n', at) - at));
      }
    }
    if (auto mpd = slurp(out_ / "manifest.mpd")) {
      if (mpd->find("</MPD>") == std::string::npos) problems.push_back("a torn MPD");
      if (mpd->find("type=\"dynamic\"") != std::string::npos) {
        ++dynamic_mpds;
        if (finished) problems.push_back("a dynamic MPD after result.json");
      }
    }
  }

  fs::path out_;
  int reads = 0, dynamic_mpds = 0;
  std::vector<std::string> problems;
  std::vector<std::string> first_master;
  std::map<fs::path, std::set<std::uintmax_t>> sizes;                 ///< every size each named file was seen at
  std::map<std::string, std::set<std::vector<std::string>>> growing;  ///< each EVENT playlist's segment lists
  std::map<std::string, std::set<std::string>> targets;  ///< each EVENT playlist's EXT-X-TARGETDURATION lines
};

// spool::transcode of `input` into `out` while `r` reads the output folder over and over.
spool::error_code transcode_read(const fs::path& input, const fs::path& out, const media::transcode_options& options,
                                 reader& r, media::transcode_result& result) {
  std::atomic<bool> stop{false};
  std::thread watcher([&] { r.run(stop); });
  auto ec = spool::transcode(input.string(), out, options, result);
  stop = true;
  watcher.join();
  return ec;
}

}  // namespace

TEST_CASE("a growing package read while it grows names only whole segments, as a prefix of the finished one",
          "[media][growing]") {
  scratch_dir dir("growing-read");
  const fs::path input = make_source(dir, 30);
  const fs::path out = dir / "out";
  reader r(out);
  media::transcode_result result;
  auto ec = transcode_read(input, out, growing_options(), r, result);
  INFO(describe(ec) << " - " << result.error_detail);
  REQUIRE_FALSE(ec);
  r.read_once();  // the finished package, once more

  CHECK(result.publish == "progressive");
  CHECK(result.first_playable_s > 0);
  CHECK(result.first_playable_s < result.elapsed_s);
  for (const auto& p : r.problems) FAIL_CHECK(p);
  // Visible from the first publish with every rendition in it.
  CHECK(r.first_master == std::vector<std::string>{"240p/index.m3u8", "180p/index.m3u8", "audio/index.m3u8"});
  // Files never change once named: every size seen is the final one.
  for (const auto& [file, seen] : r.sizes) {
    INFO(file);
    CHECK(seen == std::set<std::uintmax_t>{fs::file_size(file)});
  }
  // It grew while visible, and every state of a growing playlist is the start of the finished one.
  REQUIRE(r.growing.count("240p/index.m3u8") == 1);
  CHECK(r.growing["240p/index.m3u8"].size() >= 3);
  CHECK(r.dynamic_mpds > 0);
  for (const auto& [name, states] : r.growing) {
    const auto final_list = uri_lines(read_file(out / name));
    CHECK(read_file(out / name).find("#EXT-X-PLAYLIST-TYPE:VOD") != std::string::npos);
    for (const auto& state : states) {
      INFO(name << ": a growing state of " << state.size() << " segments");
      REQUIRE(state.size() <= final_list.size());
      CHECK(std::equal(state.begin(), state.end(), final_list.begin()));
    }
  }
  CHECK(read_file(out / "manifest.mpd").find("type=\"static\"") != std::string::npos);
  auto listing = list_dir(out);
  CHECK(std::none_of(listing.begin(), listing.end(), [](const std::string& n) { return n[0] == '.'; }));
  CHECK(temp_leftovers(dir.path()).empty());
}

TEST_CASE("a cancelled growing package is removed, and the output is left as it was", "[media][growing]") {
  scratch_dir dir("growing-cancel");
  const fs::path input = make_source(dir, 60);
  const bool with_status = GENERATE(false, true);
  const fs::path out = dir / (with_status ? "with-status" : "absent");
  if (with_status) {
    fs::create_directories(out);
    write_text(out / "status.json", "{}");
  }
  media::cancel_flag cancel{false};
  std::atomic<bool> seen{false};
  std::thread watcher([&] {
    for (int i = 0; i < 60000 && !fs::exists(out / "master.m3u8"); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    seen = fs::exists(out / "240p" / "seg_00001.m4s");
    cancel = true;
  });
  auto options = growing_options();
  options.plan.video.preset = "medium";  // slow enough to be caught while it grows
  auto where = spool::storage::resolve(out.string()).value();
  auto sink = where.backend->open_package(where.path, {}).value();
  auto source = where.backend->open_source(input.string(), {}).value();
  media::transcode_result result;
  auto ec = media::transcode(*source, *sink, options, result, &cancel);
  watcher.join();
  sink->abort();
  CHECK(seen);
  CHECK(ec == spool::errc::cancelled);
  if (with_status)
    CHECK(list_dir(out) == std::vector<std::string>{"status.json"});
  else
    CHECK_FALSE(fs::exists(out));
  CHECK(temp_leftovers(dir.path()).empty());
}

TEST_CASE("a growing package whose writer died is removed by the next run, and a live one is left alone",
          "[media][growing]") {
  scratch_dir dir("growing-stale");
  const fs::path input = make_source(dir, 4);
  const fs::path out = dir / "out";
  // What a killed writer leaves: part of a package and its unlocked lock file.
  fs::create_directories(out / "240p");
  write_text(out / "240p" / "seg_00001.m4s", "a segment");
  write_text(out / "240p" / "index.m3u8", "#EXTM3U\n");
  write_text(out / "master.m3u8", "#EXTM3U\n");
  write_text(out / "status.json", "{}");
  write_text(out / ".spool-growing-Ab12Cd", "");

  SECTION("dead: removed, and the new package published") {
    media::transcode_result result;
    auto ec = spool::transcode(input.string(), out, growing_options(), result);
    INFO(describe(ec) << " - " << result.error_detail);
    REQUIRE_FALSE(ec);
    CHECK(read_file(out / "240p" / "seg_00001.m4s") != "a segment");
    CHECK(read_file(out / "status.json") == "{}");
    CHECK_FALSE(fs::exists(out / ".spool-growing-Ab12Cd"));
  }
  SECTION("alive: another job is publishing there, a transient error") {
    int fd = ::open((out / ".spool-growing-Ab12Cd").c_str(), O_RDONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    REQUIRE(::flock(fd, LOCK_EX) == 0);
    media::transcode_result result;
    auto ec = spool::transcode(input.string(), out, growing_options(), result);
    ::close(fd);
    CHECK(ec == spool::errc::throttled);
    CHECK(read_file(out / "240p" / "seg_00001.m4s") == "a segment");
  }
}

TEST_CASE("a progressive plan replacing a package is published whole, and result.json says why", "[media][growing]") {
  scratch_dir dir("growing-replace");
  const fs::path input = make_source(dir, 4);
  const fs::path out = dir / "out";
  media::transcode_result first;
  REQUIRE_FALSE(spool::transcode(input.string(), out, growing_options(), first));
  REQUIRE(first.publish == "progressive");
  auto options = growing_options();
  options.overwrite = true;
  media::transcode_result second;
  auto ec = spool::transcode(input.string(), out, options, second);
  INFO(describe(ec) << " - " << second.error_detail);
  REQUIRE_FALSE(ec);
  CHECK(second.publish == "atomic");
  CHECK(second.first_playable_s < 0);
  CHECK(second.publish_note.find("replaces") != std::string::npos);
  CHECK(read_file(out / "result.json").find("\"mode\":\"atomic\"") != std::string::npos);
  CHECK(read_file(out / "240p" / "index.m3u8").find("#EXT-X-ENDLIST") != std::string::npos);
}

TEST_CASE("an atomic plan shows nothing until the package is whole", "[media][growing]") {
  scratch_dir dir("growing-atomic");
  const fs::path input = make_source(dir, 20);
  const fs::path out = dir / "out";
  auto options = growing_options();
  options.plan.packaging.publish = GENERATE(std::string("atomic"), std::string("auto"));
  reader r(out);
  media::transcode_result result;
  auto ec = transcode_read(input, out, options, r, result);
  REQUIRE_FALSE(ec);
  CHECK(result.publish == "atomic");
  CHECK(r.growing.empty());
  CHECK(r.dynamic_mpds == 0);
  for (const auto& p : r.problems) FAIL_CHECK(p);
}

TEST_CASE("a growing package's first segment lasts one GOP, then the segment grid resumes", "[media][growing]") {
  scratch_dir dir("growing-first");
  const fs::path input = make_source(dir, 30);
  auto options = growing_options();
  options.plan.packaging.segment_s = 6;
  options.plan.video.preset = "medium";  // slow enough to be read while it grows
  const std::string publish = GENERATE(std::string("progressive"), std::string("atomic"));
  options.plan.packaging.publish = publish;
  const fs::path out = dir / publish;
  reader r(out);
  media::transcode_result result;
  auto ec = transcode_read(input, out, options, r, result);
  REQUIRE_FALSE(ec);
  for (const auto& p : r.problems) FAIL_CHECK(p);
  // A growing playlist never changes its target duration (RFC 8216 4.3.3.1), though its first segment
  // is short and audio segments run a frame past their lines.
  if (publish == "progressive") {
    CHECK(r.targets.size() == 3);  // seen growing: 240p, 180p and audio
    // ... past its full-length segments, where a frame's overrun would show
    std::size_t most = 0;
    for (const auto& state : r.growing["audio/index.m3u8"]) most = std::max(most, state.size());
    CHECK(most >= 3);
  }
  for (const auto& [name, lines] : r.targets) {
    INFO(name);
    CHECK(lines == std::set<std::string>{"#EXT-X-TARGETDURATION:6"});
  }
  for (const std::string name : {"240p", "180p", "audio"}) {
    std::vector<double> durations;
    std::istringstream in(read_file(out / name / "index.m3u8"));
    for (std::string line; std::getline(in, line);)
      if (line.rfind("#EXTINF:", 0) == 0) durations.push_back(std::stod(line.substr(8)));
    INFO(publish << " " << name);  // audio cuts at the first AAC frame on or after a line: up to 21 ms late
    REQUIRE(durations.size() >= 3);
    if (publish == "progressive") {
      // ... and the finished playlist keeps the target duration players were given while it grew
      CHECK(read_file(out / name / "index.m3u8").find("#EXT-X-TARGETDURATION:6\n") != std::string::npos);
      CHECK(durations[0] == Approx(2).margin(0.05));
      CHECK(durations[1] == Approx(4).margin(0.05));  // back on the 6 s grid: 2 .. 6
      CHECK(durations[2] == Approx(6).margin(0.05));
    } else {
      CHECK(durations[0] == Approx(6).margin(0.05));
    }
  }
}
