#include "media/output_dir.hpp"
#include "media/manifest.hpp"
#include "media/pipeline.hpp"
#include "media/progressive.hpp"

#include <spool/json_text.hpp>
#include <spool/media/transcode.hpp>
#include <spool/version.hpp>

#include <boost/json.hpp>

namespace fs = std::filesystem;

namespace spool::media {
namespace {

using clock = std::chrono::steady_clock;

double seconds_since(clock::time_point t) { return std::chrono::duration<double>(clock::now() - t).count(); }

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

}  // namespace

boost::json::value to_json(const transcode_result& r) {
  boost::json::array renditions;
  for (const auto& x : r.renditions) {
    boost::json::object o{{"name", x.name},           {"kind", x.kind},         {"codecs", x.codecs},
                          {"segments", x.segments},   {"duration_s", x.duration_s}, {"bytes", x.bytes},
                          {"avg_bitrate", x.avg_bitrate}, {"peak_bitrate", x.peak_bitrate}};
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
  return boost::json::object{
      {"spool_version", version_string()},
      {"output", r.output.string()},
      {"duration_s", r.duration_s},
      {"renditions", std::move(renditions)},
      {"files", std::move(files)},
      {"warnings", std::move(warnings)},
      {"input", to_json(r.input)},
      {"timings",
       {{"elapsed_s", r.elapsed_s}, {"probe_s", r.probe_s}, {"encode_s", r.encode_s}, {"publish_s", r.publish_s}}},
  };
}

error_code transcode(const std::string& input, const fs::path& output, const transcode_options& options,
                     transcode_result& result, const cancel_flag* cancel) {
  auto started = clock::now();
  result = transcode_result{};
  result.output = output;
  try {
    if (auto e = validate(options.plan)) av::fail(e.code, e.what());
    if (cancel && cancel->load()) av::fail(errc::cancelled, "cancelled");

    input_guard guard;
    guard.cancel = cancel;
    guard.set_deadline(started, options.policy.deadline_for_opening());
    opened_input in;
    in.open(input, options.policy, guard);
    describe(in.get(), result.input);
    result.probe_s = seconds_since(started);
    // From here on the whole job, publish included, has the deadline its input's length gives it.
    guard.set_deadline(started, options.policy.deadline_for(result.input.duration_s));

    staging_dir staging(output, options.overwrite);
    pipeline_output out;
    auto encode_start = clock::now();
    run_pipeline(in, result.input, options, staging.path(), guard, out, started);
    result.encode_s = seconds_since(encode_start);

    auto publish_start = clock::now();
    const track_info* audio = out.audio ? &*out.audio : nullptr;
    guard.check();
    if (options.plan.packaging.hls) {
      for (const auto& v : out.video) write_file(staging.path() / v.name / "index.m3u8", hls_media_playlist(v));
      if (audio) write_file(staging.path() / audio->name / "index.m3u8", hls_media_playlist(*audio));
      write_file(staging.path() / "master.m3u8", hls_master_playlist(out.video, audio));
      result.files.emplace_back("master.m3u8");
    }
    if (options.plan.packaging.dash) {
      write_file(staging.path() / "manifest.mpd", dash_manifest(out.video, audio, out.duration_s));
      result.files.emplace_back("manifest.mpd");
    }
    guard.check();
    if (!options.plan.packaging.progressive.empty() && !out.video.empty()) {
      // The named rung, or the best one produced when a small source dropped it.
      const track_info* pick = &out.video.front();
      for (const auto& v : out.video)
        if (v.name == options.plan.packaging.progressive) pick = &v;
      write_progressive(staging.path(), *pick, audio, staging.path() / (pick->name + ".mp4"), guard);
      result.files.push_back(pick->name + ".mp4");
    }
    for (auto& f : out.files) result.files.push_back(f);
    for (const auto& v : out.video) result.renditions.push_back(to_result(v));
    if (audio) result.renditions.push_back(to_result(*audio));
    result.duration_s = out.duration_s;
    result.warnings = std::move(out.warnings);
    result.files.emplace_back("result.json");
    guard.check();
    result.elapsed_s = seconds_since(started);
    write_file(staging.path() / "result.json", to_json_text(to_json(result)) + "\n");
    if (options.before_publish) options.before_publish(staging.path());
    guard.check();
    staging.publish([&guard] { guard.check(); });
    result.publish_s = seconds_since(publish_start);
    result.elapsed_s = seconds_since(started);
    return {};
  } catch (const av::failure& f) {
    result.error_detail = f.detail.empty() ? f.ec.message() : f.detail;
    result.elapsed_s = seconds_since(started);
    return f.ec;
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

}  // namespace spool::media
