#include "package_checks.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <sstream>

#include "fixtures.hpp"

namespace spool::inline SPOOL_ABI_NAMESPACE::test {
namespace fs = std::filesystem;

double windowed_peak_bitrate(const std::vector<std::int64_t>& bytes, const std::vector<double>& seconds,
                             double target_s) {
  const std::size_t n = std::min(bytes.size(), seconds.size());
  double peak = -1, all_bits = 0, all_s = 0;
  for (std::size_t first = 0; first < n; ++first) {
    double bits = 0, s = 0;
    for (std::size_t last = first; last < n; ++last) {
      bits += static_cast<double>(bytes[last]) * 8;
      s += seconds[last];
      if (s >= 0.5 * target_s - 1e-9 && s <= 1.5 * target_s + 1e-9 && s > 0) peak = std::max(peak, bits / s);
    }
    all_bits += static_cast<double>(bytes[first]) * 8;
    all_s += seconds[first];
  }
  if (peak >= 0) return peak;
  return all_s > 0 ? all_bits / all_s : 0;
}

std::string sample_entry_for(const std::string& codec_id) {
  if (codec_id == "h264") return "avc1";
  if (codec_id == "hevc") return "hvc1";
  if (codec_id == "av1") return "av01";
  if (codec_id == "aac") return "mp4a";
  return "?" + codec_id;
}

double rendition_view::peak_bitrate() const {
  // The target duration is the playlist's own EXT-X-TARGETDURATION, as RFC 8216bis defines it.
  return windowed_peak_bitrate(sizes, media_durations, playlist.target_duration);
}

double rendition_view::avg_bitrate() const {
  double bytes = 0;
  for (auto s : sizes) bytes += static_cast<double>(s);
  double total = playlist.total();
  return total > 0 ? bytes * 8 / total : 0;
}

std::vector<double> rendition_view::segment_starts() const {
  std::vector<double> out;
  for (const auto& s : track.segments) out.push_back(s.first_pts);
  return out;
}

namespace {

rendition_view load_rendition(const fs::path& pkg, const std::string& uri) {
  rendition_view r;
  fs::path playlist = pkg / uri;
  r.dir = playlist.parent_path();
  r.name = r.dir.filename().string();
  INFO("rendition playlist " << playlist);
  REQUIRE(fs::is_regular_file(playlist));
  REQUIRE_NOTHROW(r.playlist = parse_media(playlist));
  REQUIRE_FALSE(r.playlist.map_uri.empty());
  REQUIRE(fs::is_regular_file(r.dir / r.playlist.map_uri));
  r.init_bytes = static_cast<std::int64_t>(fs::file_size(r.dir / r.playlist.map_uri));
  for (const auto& u : r.playlist.uris) REQUIRE(fs::is_regular_file(r.dir / u));
  r.sizes = segment_sizes(r.dir, r.playlist);
  REQUIRE_NOTHROW(r.init = read_init_boxes(r.dir / r.playlist.map_uri));
  REQUIRE(r.init.timescale > 0);
  for (const auto& u : r.playlist.uris) {
    std::int64_t ticks = 0;
    REQUIRE_NOTHROW(ticks = fragment_duration(r.dir / u, r.init));
    r.media_durations.push_back(static_cast<double>(ticks) / r.init.timescale);
  }
  REQUIRE_NOTHROW(r.track = decode_rendition(r.dir));
  return r;
}

std::string join(const std::vector<double>& v) {
  std::ostringstream out;
  for (std::size_t i = 0; i < v.size(); ++i) out << (i ? ", " : "") << v[i];
  return out.str();
}

const boost::json::object* find_rendition(const boost::json::value& result, const std::string& name) {
  if (!result.is_object()) return nullptr;
  auto* arr = result.get_object().if_contains("renditions");
  if (!arr || !arr->is_array()) return nullptr;
  for (const auto& r : arr->get_array())
    if (r.is_object() && r.get_object().if_contains("name") && r.get_object().at("name").is_string() &&
        r.get_object().at("name").get_string() == name)
      return &r.get_object();
  return nullptr;
}

double num(const boost::json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  if (!v) return -1;
  if (v->is_double()) return v->get_double();
  if (v->is_int64()) return static_cast<double>(v->get_int64());
  if (v->is_uint64()) return static_cast<double>(v->get_uint64());
  return -1;
}

std::string str(const boost::json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

std::string expand_template(std::string t, const std::string& id, std::int64_t number) {
  auto replace = [&](const std::string& from, const std::string& to) {
    for (auto p = t.find(from); p != std::string::npos; p = t.find(from, p + to.size())) t.replace(p, from.size(), to);
  };
  replace("$RepresentationID$", id);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%05lld", static_cast<long long>(number));
  replace("$Number%05d$", buf);
  replace("$Number$", std::to_string(number));
  return t;
}

}  // namespace

package_view load_package(const fs::path& dir) {
  package_view pkg;
  pkg.dir = dir;
  INFO("package " << dir);
  REQUIRE(fs::is_directory(dir));
  REQUIRE(fs::is_regular_file(dir / "master.m3u8"));
  REQUIRE_NOTHROW(pkg.master = parse_master(dir / "master.m3u8"));
  REQUIRE(fs::is_regular_file(dir / "result.json"));
  REQUIRE_NOTHROW(pkg.result = read_json(dir / "result.json"));
  std::set<std::string> seen;
  for (const auto& v : pkg.master.variants) {
    if (v.uri.rfind("audio/", 0) == 0) continue;  // an audio-only variant
    pkg.video.push_back(load_rendition(dir, v.uri));
  }
  std::string audio_uri;
  for (const auto& m : pkg.master.media)
    if (m.type == "AUDIO" && !m.uri.empty()) audio_uri = m.uri;
  if (audio_uri.empty())
    for (const auto& v : pkg.master.variants)
      if (v.uri.rfind("audio/", 0) == 0) audio_uri = v.uri;
  if (!audio_uri.empty()) pkg.audio = load_rendition(dir, audio_uri);
  if (fs::exists(dir / "manifest.mpd")) {
    mpd_manifest m;
    REQUIRE_NOTHROW(m = parse_mpd(dir / "manifest.mpd"));
    pkg.mpd = std::move(m);
  }
  return pkg;
}

void check_dimensions(int width, int height, double aspect) {
  INFO("dimensions " << width << "x" << height << ", expected aspect " << aspect);
  CHECK(width > 0);
  CHECK(height > 0);
  CHECK(width % 2 == 0);
  CHECK(height % 2 == 0);
  CHECK(std::abs(width - height * aspect) <= 2.0);
}

void check_package(const package_view& pkg, const package_expectation& expect) {
  INFO("package " << pkg.dir);
  const auto& master = pkg.master;

  // ---- master playlist ----
  CHECK(master.extm3u);
  CHECK(master.version >= 7);
  CHECK(master.independent_segments);
  REQUIRE_FALSE(pkg.video.empty());
  if (!expect.rung_names.empty()) {
    std::vector<std::string> names;
    for (const auto& v : pkg.video) names.push_back(v.name);
    CHECK(names == expect.rung_names);
  }
  const hls_media* audio_media = nullptr;
  for (const auto& m : master.media)
    if (m.type == "AUDIO") audio_media = &m;
  if (expect.audio) {
    REQUIRE(audio_media != nullptr);
    CHECK(audio_media->group_id == "audio");
    CHECK(audio_media->uri == "audio/index.m3u8");
    REQUIRE(pkg.audio.has_value());
  } else {
    CHECK(audio_media == nullptr);
    CHECK_FALSE(pkg.audio.has_value());
    CHECK_FALSE(fs::exists(pkg.dir / "audio"));
  }

  // ---- every video rendition on its own ----
  // The output frame rate: as expected, or else as the master playlist declares it.
  double out_fps = expect.fps;
  if (out_fps <= 0 && !master.variants.empty()) out_fps = master.variants.front().frame_rate;
  if (out_fps <= 0) out_fps = pkg.video.front().track.avg_frame_rate;
  REQUIRE(out_fps > 0);
  CHECK(out_fps <= expect.max_fps + 0.01);
  const double frame = 1.0 / out_fps;
  // A grid line exactly between two frames is half a frame from either; timestamps rounded to the
  // 90 kHz timescale may then measure a little more.
  const double tick = 1.0 / 90000;
  const double dur_tol = expect.duration_tolerance >= 0 ? expect.duration_tolerance : frame + 1e-3;
  std::size_t vi = 0;
  for (const auto& v : master.variants) {
    if (v.uri.rfind("audio/", 0) == 0) continue;
    const rendition_view& r = pkg.video.at(vi++);
    const decoded_track& t = r.track;
    INFO("video rendition " << r.name << " at " << out_fps << " fps");
    CHECK(v.frame_rate == Approx(out_fps).margin(0.01));
    CHECK(v.uri == r.name + "/index.m3u8");
    CHECK(t.type == "video");
    CHECK(t.codec_id == expect.codec);
    // The sample entry in init.mp4, and the CODECS string names the same family.
    const std::string entry = sample_entry_for(expect.codec);
    CHECK(r.init.sample_entry == entry);
    CHECK(v.codecs.rfind(r.init.sample_entry + ".", 0) == 0);
    CHECK(t.pix_fmt == "yuv420p");
    CHECK(t.width % 2 == 0);
    CHECK(t.height % 2 == 0);
    CHECK_FALSE(t.rotation_side_data);
    CHECK(v.width == t.width);
    CHECK(v.height == t.height);
    CHECK_FALSE(v.codecs.empty());
    if (expect.audio) {
      CHECK(v.audio == "audio");
      CHECK(v.codecs.find("mp4a.40.2") != std::string::npos);
    } else {
      CHECK(v.audio.empty());
      CHECK(v.codecs.find("mp4a") == std::string::npos);
    }
    CHECK(v.bandwidth > 0);
    CHECK(v.average_bandwidth > 0);
    CHECK(v.average_bandwidth <= v.bandwidth);
    REQUIRE(t.frame_count() > 1);

    // Media playlist structure.
    const auto& pl = r.playlist;
    CHECK(pl.extm3u);
    CHECK(pl.version >= 7);
    CHECK(pl.playlist_type == "VOD");
    CHECK(pl.endlist);
    CHECK(pl.map_uri == "init.mp4");
    REQUIRE_FALSE(pl.uris.empty());
    for (std::size_t i = 0; i < pl.uris.size(); ++i) {
      char expected_name[32];
      std::snprintf(expected_name, sizeof expected_name, "seg_%05zu.m4s", i + 1);
      CHECK(pl.uris[i] == expected_name);
      INFO("segment " << pl.uris[i] << " EXTINF " << pl.durations[i] << " target " << pl.target_duration);
      CHECK(std::lround(pl.durations[i]) <= std::lround(pl.target_duration));
      CHECK(pl.durations[i] <= expect.segment_s + frame + 1e-3);
      CHECK(pl.durations[i] > 0);
    }
    CHECK(pl.target_duration <= std::ceil(expect.segment_s + frame));

    // Constant frame rate at the expected rate, starting at zero.
    int irregular = 0;
    double worst_gap = 0;
    for (std::size_t i = 1; i < t.frames.size(); ++i) {
      double gap = t.frames[i].pts - t.frames[i - 1].pts;
      if (std::abs(gap - frame) > 1e-3) {
        ++irregular;
        worst_gap = std::max(worst_gap, std::abs(gap - frame));
      }
    }
    {
      INFO("frames whose pts step differs from 1/fps: " << irregular << " (worst deviation " << worst_gap << " s)");
      CHECK(irregular == 0);
    }
    {
      INFO("first frame at " << t.first_pts() << " s, " << t.frame_count() << " frames, last ends at " << t.end_time()
                             << " s");
      CHECK(t.first_pts() == Approx(0).margin(frame / 2));
    }
    {
      const double end = t.end_time();
      INFO("video end " << end << " s, source " << expect.source_duration << " s, frames " << t.frame_count()
                        << ", first pts " << t.first_pts());
      CHECK(std::abs(end - expect.source_duration) <= dur_tol);
      const double expected_frames = expect.source_duration * out_fps;
      const double allowed = std::max(1.0, std::floor(dur_tol * out_fps + 1e-6));
      CHECK(std::abs(static_cast<double>(t.frame_count()) - expected_frames) <= allowed);
    }

    // CMAF: every segment starts with a keyframe, on the GOP grid, and lasts at most one segment.
    REQUIRE(t.segments.size() == pl.uris.size());
    auto starts = r.segment_starts();
    INFO("segment starts (decoded): " << join(starts) << "; EXTINF: " << join(pl.durations));
    std::string not_key, off_grid, too_long, extinf_mismatch, empty;
    // Where a keyframe should be nearest `t`: the GOP grid, or the copied source's own keyframes.
    auto nearest_key = [&](double at) {
      if (expect.source_keyframes.empty()) return std::round(at / expect.gop_s) * expect.gop_s;
      double best = expect.source_keyframes.front();
      for (double k : expect.source_keyframes)
        if (std::abs(k - at) < std::abs(best - at)) best = k;
      return best;
    };
    for (std::size_t i = 0; i < t.segments.size(); ++i) {
      const auto& s = t.segments[i];
      const std::string id = " #" + std::to_string(i + 1);
      if (s.frames <= 0) empty += id;
      if (!s.starts_with_key) not_key += id;
      if (std::abs(s.first_pts - nearest_key(s.first_pts)) > frame / 2 + tick) off_grid += id;
      const double next = i + 1 < t.segments.size() ? t.segments[i + 1].first_pts : t.end_time();
      const double measured = next - s.first_pts;
      if (measured > expect.segment_s + frame + 1e-3) too_long += id;
      if (std::abs(measured - pl.durations[i]) > frame + 1e-3)
        extinf_mismatch +=
            id + " (EXTINF " + std::to_string(pl.durations[i]) + ", media " + std::to_string(measured) + ")";
    }
    {
      INFO("segments without frames:" << empty);
      CHECK(empty.empty());
    }
    {
      INFO("segments not starting with a keyframe:" << not_key);
      CHECK(not_key.empty());
    }
    {
      INFO("segments starting off the " << expect.gop_s << " s grid (or the source's keyframes):" << off_grid);
      CHECK(off_grid.empty());
    }
    {
      INFO("segments longer than " << expect.segment_s << " s + one frame:" << too_long);
      CHECK(too_long.empty());
    }
    {
      INFO("segments whose EXTINF differs from the media by more than a frame:" << extinf_mismatch);
      CHECK(extinf_mismatch.empty());
    }
    // Exactly one keyframe for every point of the GOP grid (within half a frame), and none elsewhere.
    auto keys = t.keyframe_times();
    if (!expect.source_keyframes.empty()) {
      // A copied source's keyframes, one for one, in every rung.
      INFO("keyframes at " << join(keys) << "; the source's at " << join(expect.source_keyframes));
      REQUIRE(keys.size() == expect.source_keyframes.size());
      for (std::size_t k = 0; k < keys.size(); ++k)
        CHECK(std::abs(keys[k] - expect.source_keyframes[k]) <= frame / 2 + tick);
      continue;
    }
    std::string missing, extra, off;
    std::map<long, int> per_line;
    for (double k : keys) {
      const long line = std::lround(k / expect.gop_s);
      if (std::abs(k - static_cast<double>(line) * expect.gop_s) > frame / 2 + tick)
        off += " " + std::to_string(k);
      else if (++per_line[line] > 1)
        extra += " " + std::to_string(k);
    }
    // A grid line is due when a frame lies within half a frame of it (or exactly half a frame before).
    const double last = t.frames.empty() ? 0 : t.frames.back().pts;
    for (long line = 0; static_cast<double>(line) * expect.gop_s - frame / 2 - tick <= last; ++line)
      if (!per_line.count(line)) missing += " " + std::to_string(static_cast<double>(line) * expect.gop_s);
    INFO("keyframes at " << join(keys) << "; grid points without one:" << missing
                         << "; second keyframes on a grid line:" << extra << "; keyframes off the grid:" << off);
    CHECK(missing.empty());
    CHECK(extra.empty());
    CHECK(off.empty());
  }

  // ---- across rungs: identical segment boundaries ----
  for (std::size_t i = 1; i < pkg.video.size(); ++i) {
    INFO("segment starts of " << pkg.video[0].name << ": " << join(pkg.video[0].segment_starts()) << " vs "
                              << pkg.video[i].name << ": " << join(pkg.video[i].segment_starts()));
    auto a = pkg.video[0].segment_starts(), b = pkg.video[i].segment_starts();
    REQUIRE(a.size() == b.size());
    bool same = true;
    for (std::size_t k = 0; k < a.size(); ++k) same = same && std::abs(a[k] - b[k]) <= 1e-3;
    CHECK(same);
    CHECK(pkg.video[i].playlist.durations.size() == pkg.video[0].playlist.durations.size());
  }

  // ---- audio ----
  if (pkg.audio) {
    const auto& a = *pkg.audio;
    INFO("audio rendition " << a.name);
    CHECK(a.name == "audio");
    CHECK(a.track.type == "audio");
    CHECK(a.track.codec == "aac");
    CHECK(a.init.sample_entry == "mp4a");
    CHECK(a.playlist.map_uri == "init.mp4");
    CHECK(a.playlist.endlist);
    CHECK(a.track.sample_rate > 0);
    CHECK(a.track.channels > 0);
    for (std::size_t i = 0; i < a.playlist.durations.size(); ++i) {
      INFO("audio segment " << i + 1 << " EXTINF " << a.playlist.durations[i]);
      CHECK(a.playlist.durations[i] <= expect.segment_s + 0.1);
      CHECK(std::lround(a.playlist.durations[i]) <= std::lround(a.playlist.target_duration));
    }
    for (const auto& s : a.track.segments) CHECK(s.starts_with_key);
    const double video_end = pkg.video.front().track.end_time();
    const double video_start = pkg.video.front().track.first_pts();
    INFO("audio " << a.track.first_pts() << ".." << a.track.end_time() << " s, video " << video_start << ".."
                  << video_end << " s");
    CHECK(std::abs(a.track.end_time() - video_end) <= 0.1);
    CHECK(std::abs(a.track.first_pts() - video_start) <= 0.1);
  }

  // ---- bandwidth attributes against the segment files ----
  // BANDWIDTH is the peak segment bit rate, measured here from the files (sizes on disk, durations
  // from the trun boxes), of the video plus the audio: at least that, and not inflated beyond it.
  const double audio_peak = pkg.audio ? pkg.audio->peak_bitrate() : 0;
  for (std::size_t i = 0; i < pkg.video.size(); ++i) {
    const auto& r = pkg.video[i];
    const hls_variant* v = nullptr;
    for (const auto& var : master.variants)
      if (var.uri == r.name + "/index.m3u8") v = &var;
    REQUIRE(v != nullptr);
    const double peak = r.peak_bitrate() + audio_peak;
    const double avg = r.avg_bitrate() + (pkg.audio ? pkg.audio->avg_bitrate() : 0);
    INFO(r.name << ": BANDWIDTH " << v->bandwidth << " vs measured peak " << peak << " (video " << r.peak_bitrate()
                << " + audio " << audio_peak << "); AVERAGE-BANDWIDTH " << v->average_bandwidth
                << " vs measured average " << avg);
    CHECK(static_cast<double>(v->bandwidth) >= peak);
    CHECK(static_cast<double>(v->bandwidth) <= peak * 1.005 + 2);
    CHECK(static_cast<double>(v->average_bandwidth) == Approx(avg).epsilon(0.10));
  }

  // ---- DASH ----
  if (expect.dash) {
    REQUIRE(pkg.mpd.has_value());
    const auto& m = *pkg.mpd;
    CHECK(m.type == "static");
    CHECK(m.duration_s == Approx(expect.source_duration).margin(std::max(dur_tol, 0.1)));
    const mpd_adaptation_set* vset = nullptr;
    const mpd_adaptation_set* aset = nullptr;
    int video_sets = 0, audio_sets = 0;
    for (const auto& as : m.adaptation_sets) {
      if (as.content_type == "video") vset = &as, ++video_sets;
      if (as.content_type == "audio") aset = &as, ++audio_sets;
    }
    CHECK(video_sets == 1);
    CHECK(audio_sets == (expect.audio ? 1 : 0));
    REQUIRE(vset != nullptr);
    REQUIRE(vset->representations.size() == pkg.video.size());
    for (std::size_t i = 0; i < pkg.video.size(); ++i) {
      const auto& r = pkg.video[i];
      // Match by dimensions: representation ids are the package's business.
      const mpd_representation* rep = nullptr;
      for (const auto& cand : vset->representations)
        if (cand.width == r.track.width && cand.height == r.track.height) rep = &cand;
      INFO("MPD representation for " << r.name << " (" << r.track.width << "x" << r.track.height << ")");
      REQUIRE(rep != nullptr);
      INFO("@bandwidth " << rep->bandwidth << " vs the video's measured peak " << r.peak_bitrate());
      CHECK(static_cast<double>(rep->bandwidth) >= r.peak_bitrate());
      CHECK(static_cast<double>(rep->bandwidth) <= r.peak_bitrate() * 1.005 + 2);
      CHECK(rep->codecs.rfind(r.init.sample_entry + ".", 0) == 0);
      auto starts = rep->segment_starts();
      auto hls_starts = r.segment_starts();
      INFO("MPD timeline starts " << join(starts) << "; decoded " << join(hls_starts));
      REQUIRE(starts.size() == hls_starts.size());
      bool same = true;
      for (std::size_t k = 0; k < starts.size(); ++k) same = same && std::abs(starts[k] - hls_starts[k]) <= frame / 2;
      CHECK(same);
      CHECK(rep->timeline_duration() == Approx(r.track.end_time() - r.track.first_pts()).margin(frame + 1e-3));
      // The templates resolve to the files the HLS playlists list.
      REQUIRE_FALSE(rep->media.empty());
      REQUIRE_FALSE(rep->initialization.empty());
      CHECK(fs::is_regular_file(pkg.dir / expand_template(rep->initialization, rep->id, 0)));
      for (std::size_t k = 0; k < starts.size(); ++k) {
        auto file = pkg.dir / expand_template(rep->media, rep->id, rep->start_number + static_cast<std::int64_t>(k));
        INFO("MPD segment " << file);
        CHECK(fs::is_regular_file(file));
      }
    }
    // SegmentTimeline@t is an unsigned presentation time.
    for (const auto& as : m.adaptation_sets)
      for (const auto& rep : as.representations)
        for (const auto& sr : rep.timeline) {
          INFO("representation " << rep.id << ": <S t=\"" << sr.t << "\" d=\"" << sr.d << "\">");
          CHECK(sr.t >= 0);
          CHECK(sr.d > 0);
        }
    if (expect.audio && aset) {
      REQUIRE(aset->representations.size() == 1);
      const auto& rep = aset->representations[0];
      CHECK(rep.codecs == "mp4a.40.2");
      CHECK(static_cast<double>(rep.bandwidth) >= pkg.audio->peak_bitrate());
      CHECK(static_cast<double>(rep.bandwidth) <= pkg.audio->peak_bitrate() * 1.005 + 2);
      CHECK(rep.timeline.size() > 0);
      CHECK(rep.segment_starts().size() == pkg.audio->playlist.uris.size());
    }
  } else {
    CHECK_FALSE(fs::exists(pkg.dir / "manifest.mpd"));
  }

  // ---- result.json agrees with the media ----
  REQUIRE(pkg.result.is_object());
  const auto& res = pkg.result.get_object();
  CHECK(num(res, "duration_s") == Approx(expect.source_duration).margin(std::max(dur_tol, 0.1)));
  CHECK(res.if_contains("input") != nullptr);
  CHECK(res.if_contains("files") != nullptr);
  for (const auto& r : pkg.video) {
    INFO("result.json rendition " << r.name);
    const auto* o = find_rendition(pkg.result, r.name);
    REQUIRE(o != nullptr);
    CHECK(str(*o, "kind") == "video");
    CHECK(num(*o, "width") == r.track.width);
    CHECK(num(*o, "height") == r.track.height);
    CHECK(num(*o, "frames") == static_cast<double>(r.track.frame_count()));
    CHECK(num(*o, "segments") == static_cast<double>(r.playlist.uris.size()));
    CHECK(num(*o, "fps") == Approx(out_fps).margin(0.01));
    CHECK(num(*o, "duration_s") == Approx(r.track.end_time()).margin(frame + 1e-3));
    double seg_bytes = 0;
    for (auto s : r.sizes) seg_bytes += static_cast<double>(s);
    CHECK(num(*o, "bytes") >= seg_bytes);
    CHECK(num(*o, "bytes") <= seg_bytes + static_cast<double>(r.init_bytes));
    CHECK(num(*o, "peak_bitrate") >= r.peak_bitrate());
    CHECK(num(*o, "peak_bitrate") <= r.peak_bitrate() * 1.005 + 2);
    CHECK(num(*o, "avg_bitrate") == Approx(r.avg_bitrate()).epsilon(0.10));
    CHECK(str(*o, "codecs").rfind(r.init.sample_entry + ".", 0) == 0);
  }
  if (pkg.audio) {
    const auto* o = find_rendition(pkg.result, "audio");
    REQUIRE(o != nullptr);
    CHECK(str(*o, "kind") == "audio");
    CHECK(str(*o, "codecs") == "mp4a.40.2");
    CHECK(num(*o, "segments") == static_cast<double>(pkg.audio->playlist.uris.size()));
  }
}

package_view transcode_ok(const fs::path& input, const fs::path& out, const spool::media::transcode_options& options,
                          spool::media::transcode_result& result) {
  auto ec = spool::transcode(input.string(), out, options, result);
  INFO("transcode " << input.filename() << ": " << describe(ec) << " - " << result.error_detail);
  REQUIRE_FALSE(ec);
  auto left = temp_leftovers(out.parent_path());
  CHECK(left.empty());
  return load_package(out);
}

void check_failed_cleanly(const spool::error_code& ec, const fs::path& outdir) {
  INFO("error: " << describe(ec));
  CHECK(ec);
  CHECK_FALSE(fs::exists(outdir));
  auto left = temp_leftovers(outdir.parent_path());
  std::string names;
  for (const auto& l : left) names += " " + l;
  INFO("temporary entries left in " << outdir.parent_path() << ":" << names);
  CHECK(left.empty());
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::test
