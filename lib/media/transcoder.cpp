// The engine's entry: one input into one package sink.
#include <spool/json_text.hpp>
#include <spool/media/transcode.hpp>
#include <spool/package_layout.hpp>
#include <spool/version.hpp>

#include <boost/json.hpp>

#include <unistd.h>

#include <algorithm>
#include <cmath>

#include "core/durable_file.hpp"
#include "media/chunk.hpp"
#include "media/manifest.hpp"
#include "media/package_out.hpp"
#include "media/pipeline.hpp"
#include "media/progressive.hpp"

namespace fs = std::filesystem;

namespace spool::inline SPOOL_ABI_NAMESPACE::media {
namespace {

using clock = std::chrono::steady_clock;

double seconds_since(clock::time_point t) { return std::chrono::duration<double>(clock::now() - t).count(); }

}  // namespace

rendition_result to_result(const track_info& t) {
  rendition_result r;
  r.name = t.name;
  r.kind = t.video ? "video" : "audio";
  r.codecs = t.codecs;
  r.width = t.width;
  r.height = t.height;
  r.fps = av::q2d(t.frame_rate);
  r.frames = t.frames;
  r.segments = static_cast<int>(t.segments.size());
  r.duration_s = t.duration_s();
  r.bytes = t.bytes();
  r.avg_bitrate = t.avg_bitrate();
  r.peak_bitrate = t.peak_bitrate();
  return r;
}

boost::json::value to_json(const transcode_result& r) {
  boost::json::array renditions;
  for (const auto& x : r.renditions) {
    boost::json::object o{{"name", x.name},
                          {"kind", x.kind},
                          {"codecs", x.codecs},
                          {"segments", x.segments},
                          {"duration_s", x.duration_s},
                          {"bytes", x.bytes},
                          {"avg_bitrate", x.avg_bitrate},
                          {"peak_bitrate", x.peak_bitrate}};
    if (x.kind == "video") {
      o["width"] = x.width;
      o["height"] = x.height;
      o["fps"] = x.fps;
      o["frames"] = x.frames;
    }
    renditions.push_back(std::move(o));
  }
  boost::json::array files;
  for (const auto& f : r.files) files.push_back(boost::json::string(f));
  boost::json::array warnings;
  for (const auto& w : r.warnings)
    warnings.push_back(boost::json::object{{"code", w.code}, {"message", w.message}, {"count", w.count}});
  boost::json::object o{
      {"spool_version", version_string()},
      {"duration_s", r.duration_s},
      {"renditions", std::move(renditions)},
      {"files", std::move(files)},
      {"warnings", std::move(warnings)},
      {"input", to_json(r.input)},
      {"timings",
       {{"elapsed_s", r.elapsed_s}, {"probe_s", r.probe_s}, {"encode_s", r.encode_s}, {"publish_s", r.publish_s}}},
  };
  boost::json::object publish{{"mode", r.publish}};
  if (!r.publish_note.empty()) publish["note"] = r.publish_note;
  if (r.first_playable_s >= 0) publish["first_playable_s"] = r.first_playable_s;
  o["publish"] = std::move(publish);
  // Where the package went is the caller's to know (result.json travels with the package).
  if (!r.output.empty()) o["output"] = r.output;
  return o;
}

namespace {

// The engine's own folder for the progressive MP4 (made from local copies of its tracks, so the
// package's storage is never read back): at most twice that rung's size, removed when the job ends,
// and a crashed run's is removed by the next one (nobody holds its lock).
class workspace {
 public:
  explicit workspace(const fs::path& parent) {
    const fs::path dir = parent.empty() ? fs::temp_directory_path() : parent;
    const std::string prefix = "spool-work-";
    detail::remove_stale(dir, prefix);
    auto t = detail::make_locked_temp(dir, prefix, true);
    path_ = std::move(t.path);
    lock_fd_ = t.fd;
  }
  ~workspace() {
    std::error_code ec;
    fs::remove_all(path_, ec);
    ::close(lock_fd_);
  }
  workspace(const workspace&) = delete;
  workspace& operator=(const workspace&) = delete;
  const fs::path& path() const noexcept { return path_; }

 private:
  fs::path path_;
  int lock_fd_ = -1;
};

}  // namespace

error_code transcode(io::byte_source& input, io::package_sink& output, const transcode_options& options,
                     transcode_result& result, const cancel_flag* cancel) {
  auto started = clock::now();
  result = transcode_result{};
  try {
    if (auto e = validate(options.plan)) av::fail(e.code, e.what());
    if (options.chunk)
      if (auto e = validate_chunk(options)) av::fail(e.code, e.what());
    if (cancel && cancel->load()) av::fail(errc::cancelled, "cancelled");

    input_guard guard;
    guard.cancel = cancel;
    guard.set_deadline(started, options.policy.deadline_for_opening());
    opened_input in;
    in.open(input, options.policy, guard);
    describe(in.get(), result.input);
    result.probe_s = seconds_since(started);
    // From here on the whole job has the deadline its input's length gives it; the caller's commit
    // keeps to it too.
    guard.set_deadline(started, options.policy.deadline_for(result.input.duration_s));
    result.deadline = guard.deadline;

    std::optional<workspace> work;
    if (!options.plan.packaging.progressive.empty() && !options.chunk) work.emplace(options.workspace);
    pipeline_output out;
    auto encode_start = clock::now();
    if (options.chunk) {
      // A part of a chunked job: its tracks checked from the bytes written, and chunk.json for the stitch.
      recording_sink recorder(output);
      if (!is_whole_input(options) || whole_input_has_work(options.plan, result.input))
        run_pipeline(in, result.input, options, recorder, fs::path(), guard, out, started);
      result.encode_s = seconds_since(encode_start);
      guard.check();
      finish_chunk(options, recorder.record(), out, result, output);
      for (const auto& v : out.video) result.renditions.push_back(to_result(v));
      if (out.audio) result.renditions.push_back(to_result(*out.audio));
      result.duration_s = out.duration_s;
      result.warnings = std::move(out.warnings);
      result.files = std::move(out.files);
      result.files.emplace_back(chunk_manifest);
      result.elapsed_s = seconds_since(started);
      return {};
    }
    run_pipeline(in, result.input, options, output, work ? work->path() : fs::path(), guard, out, started);
    result.encode_s = seconds_since(encode_start);

    auto publish_start = clock::now();
    const track_info* audio = out.audio ? &*out.audio : nullptr;
    namespace layout = package_layout;
    guard.check();
    if (options.plan.packaging.hls) {
      // A package that grew ends its playlists with the target duration players were given.
      growing_manifest ended;
      ended.finished = true;
      ended.target_duration_s = static_cast<std::int64_t>(std::ceil(options.plan.packaging.segment_s));
      const growing_manifest* grew = out.publish == "progressive" ? &ended : nullptr;
      for (const auto& v : out.video)
        put_manifest(output, v.name + "/" + std::string(layout::media_playlist), hls_media_playlist(v, grew));
      if (audio)
        put_manifest(output, audio->name + "/" + std::string(layout::media_playlist), hls_media_playlist(*audio, grew));
      put_manifest(output, layout::master_playlist, hls_master_playlist(out.video, audio));
      result.files.emplace_back(layout::master_playlist);
    }
    if (options.plan.packaging.dash) {
      // The presentation lasts until its longest track ends (a player ends playback at this time).
      put_manifest(output, layout::mpd,
                   dash_manifest(out.video, audio, std::max(out.duration_s, audio ? audio->duration_s() : 0.0)));
      result.files.emplace_back(layout::mpd);
    }
    guard.check();
    if (!options.plan.packaging.progressive.empty() && !out.video.empty()) {
      // The named rung, or the first one produced when a small source dropped it.
      const track_info* pick = &out.video.front();
      for (const auto& v : out.video)
        if (v.name == options.plan.packaging.progressive) pick = &v;
      const std::string name = layout::progressive_file(pick->name);
      write_progressive(work->path(), *pick, audio, work->path() / name, guard);
      if (auto e = output.put_file(name, work->path() / name)) av::fail(e.code, e.what());
      result.files.push_back(name);
    }
    for (auto& f : out.files) result.files.push_back(f);
    for (const auto& v : out.video) result.renditions.push_back(to_result(v));
    if (audio) result.renditions.push_back(to_result(*audio));
    result.duration_s = out.duration_s;
    result.warnings = std::move(out.warnings);
    result.publish = out.publish;
    result.publish_note = out.publish_note;
    result.first_playable_s = out.first_playable_s;
    result.files.emplace_back(layout::result);
    guard.check();
    result.elapsed_s = seconds_since(started);
    put_manifest(output, layout::result, to_json_text(to_json(result)) + "\n");
    result.publish_s = seconds_since(publish_start);
    result.elapsed_s = seconds_since(started);
    return {};
  } catch (const av::failure& f) {
    result.error_detail = f.message();
    result.elapsed_s = seconds_since(started);
    return f.code();
  } catch (const std::bad_alloc&) {
    result.error_detail = "out of memory";
    return errc::out_of_memory;
  } catch (const fs::filesystem_error& e) {
    result.error_detail = e.what();
    int v = e.code().value();
    return v == ENOSPC || v == EDQUOT || v == EFBIG ? make_error_code(errc::no_space) : make_error_code(errc::io_error);
  } catch (const std::exception& e) {
    result.error_detail = e.what();
    return errc::internal;
  } catch (...) {
    result.error_detail = "an unknown exception";
    return errc::internal;
  }
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::media
