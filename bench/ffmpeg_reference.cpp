#include "ffmpeg_reference.hpp"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavfilter/avfilter.h>
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>
#include <libswresample/swresample.h>
#include <libswscale/swscale.h>
}

#include <fmt/format.h>

namespace spool_bench {
namespace {

namespace fs = std::filesystem;

void append(std::vector<std::string>& to, const std::vector<std::string>& more) {
  to.insert(to.end(), more.begin(), more.end());
}

std::vector<std::string> x264_args() {
  std::vector<std::string> a{"-c:v", "libx264", "-profile:v", "high", "-preset", x264_preset, "-crf"};
  append(a, {std::to_string(crf), "-pix_fmt", "yuv420p", "-g", std::to_string(gop_frames)});
  append(a, {"-keyint_min", std::to_string(gop_frames), "-sc_threshold", "0"});
  append(a, {"-force_key_frames", "expr:gte(t,n_forced*2)"});
  return a;
}

std::vector<std::string> aac_args() { return {"-c:a", "aac", "-b:a", "128k", "-ar", "48000", "-ac", "2"}; }

std::vector<std::string> hls_args(const fs::path& dir_pattern) {
  std::vector<std::string> a{"-f", "hls", "-hls_time", fmt::format("{}", segment_s), "-hls_playlist_type", "vod"};
  append(a, {"-hls_segment_type", "fmp4", "-hls_fmp4_init_filename", "init.mp4"});
  append(a, {"-hls_segment_filename", (dir_pattern / "seg_%05d.m4s").string()});
  return a;
}

/// Up to the input. `-threads` before `-i` is an input option: it sets the decoder's threads, not
/// the encoders' (those keep libx264's own count).
std::vector<std::string> ffmpeg_head(const ffmpeg_reference& ref, const std::string& src) {
  std::vector<std::string> a{ref.ffmpeg, "-hide_banner", "-nostdin", "-nostats", "-loglevel", "warning", "-y"};
  if (ref.decoder_threads > 0) append(a, {"-threads", std::to_string(ref.decoder_threads)});
  append(a, {"-i", src});
  return a;
}

std::string lib_version(const char* name, unsigned v) {
  return fmt::format("{} {}.{}.{}", name, AV_VERSION_MAJOR(v), AV_VERSION_MINOR(v), AV_VERSION_MICRO(v));
}

}  // namespace

std::vector<std::string> single_process_command(const ffmpeg_reference& ref, const std::string& src,
                                                const fs::path& out) {
  auto a = ffmpeg_head(ref, src);
  std::string graph = fmt::format("[0:v]split={}", rung_count);
  for (int i = 0; i < rung_count; ++i) graph += fmt::format("[s{}]", i);
  for (int i = 0; i < rung_count; ++i)
    graph += fmt::format(";[s{}]scale=-2:{}:flags=bicubic,fps={}[v{}]", i, ladder[i].height, fps, i);
  append(a, {"-filter_complex", graph});
  for (int i = 0; i < rung_count; ++i) append(a, {"-map", fmt::format("[v{}]", i)});
  append(a, {"-map", "0:a:0"});
  append(a, x264_args());
  for (int i = 0; i < rung_count; ++i)
    append(a, {fmt::format("-maxrate:v:{}", i), fmt::format("{}k", ladder[i].maxrate_k),
               fmt::format("-bufsize:v:{}", i), fmt::format("{}k", ladder[i].bufsize_k)});
  append(a, aac_args());
  append(a, hls_args(out / "%v"));
  std::string map;
  for (int i = 0; i < rung_count; ++i) map += fmt::format("v:{},name:{},agroup:aud ", i, ladder[i].name);
  map += "a:0,name:audio,agroup:aud";
  append(a, {"-master_pl_name", "master.m3u8", "-var_stream_map", map, (out / "%v" / "index.m3u8").string()});
  return a;
}

std::vector<std::string> per_rung_command(const ffmpeg_reference& ref, const std::string& src, const fs::path& out,
                                          int i) {
  auto a = ffmpeg_head(ref, src);
  append(a, {"-map", "0:v:0", "-vf", fmt::format("scale=-2:{}:flags=bicubic,fps={}", ladder[i].height, fps)});
  append(a, x264_args());
  append(a, {"-maxrate", fmt::format("{}k", ladder[i].maxrate_k), "-bufsize", fmt::format("{}k", ladder[i].bufsize_k),
             "-an"});
  append(a, hls_args(out / ladder[i].name));
  a.push_back((out / ladder[i].name / "index.m3u8").string());
  if (i == audio_rung) {
    append(a, {"-map", "0:a:0", "-vn"});
    append(a, aac_args());
    append(a, hls_args(out / "audio"));
    a.push_back((out / "audio" / "index.m3u8").string());
  }
  return a;
}

std::string ffmpeg_library_versions() {
  return fmt::format("FFmpeg {}: {}, {}, {}, {}, {}, {}", av_version_info(), lib_version("libavutil", avutil_version()),
                     lib_version("libavcodec", avcodec_version()), lib_version("libavformat", avformat_version()),
                     lib_version("libavfilter", avfilter_version()), lib_version("libswscale", swscale_version()),
                     lib_version("libswresample", swresample_version()));
}

}  // namespace spool_bench
