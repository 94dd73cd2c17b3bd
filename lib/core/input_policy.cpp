#include <spool/input_policy.hpp>
#include <spool/package_layout.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace spool::inline SPOOL_ABI_NAMESPACE {

std::vector<std::string> input_policy::default_demuxers() {
  // Containers and elementary streams that carry their media inside the file itself. Absent on
  // purpose: hls, dash, concat, image2*, tee, data, subfile, tty, lavfi and every other format that
  // reads or renders something other than the bytes handed to it.
  return {"mov",  "mp4",          "matroska", "webm", "avi",  "flv",  "mpegts", "mpeg", "mpegvideo", "h264",
          "hevc", "m4v",          "asf",      "ogg",  "wav",  "mp3",  "aac",    "flac", "dv",        "mxf",
          "gif",  "yuv4mpegpipe", "nut",      "rm",   "w64",  "aiff", "caf",    "ivf",  "obu",       "mjpeg",
          "vc1",  "mpegtsraw",    "wv",       "ac3",  "eac3", "amr",  "loas",   "opus"};
}

std::vector<std::string> input_policy::default_decoders() {
  // What lectures arrive as, by family; docs/input-policy.md gives the reason for each. Absent on
  // purpose: the several hundred other decoders (game and console formats, still-image formats,
  // professional interchange codecs such as JPEG 2000, subtitles), which real uploads do not need
  // and which are the least exercised code in the library.
  return {// phones, cameras, screen recorders, browsers (MediaRecorder), editing exports
          "h264", "hevc", "vp8", "vp9", "av1", "prores", "dnxhd",
          // DVD, broadcast and older camcorders
          "mpeg1video", "mpeg2video", "dvvideo", "mjpeg",
          // the MPEG-4 Part 2 and Windows Media generation
          "mpeg4", "msmpeg4v1", "msmpeg4v2", "msmpeg4v3", "wmv1", "wmv2", "wmv3", "vc1", "h263", "h263p",
          // Flash, RealMedia, QuickTime and AVI archives of older recorded courses
          "flv1", "vp6", "vp6f", "vp6a", "rv10", "rv20", "rv30", "rv40", "svq1", "svq3", "cinepak", "indeo3", "indeo4",
          "indeo5", "msvideo1", "theora",
          // screen-capture and lossless recorders
          "flashsv", "flashsv2", "tscc", "tscc2", "g2m", "vmnc", "qtrle", "utvideo", "huffyuv", "ffvhuff", "magicyuv",
          "ffv1", "rawvideo", "gif", "png",
          // audio
          "aac", "aac_latm", "mp1", "mp2", "mp3", "ac3", "eac3", "dts", "opus", "vorbis", "flac", "alac", "wavpack",
          "pcm_s16le", "pcm_s16be", "pcm_s24le", "pcm_s24be", "pcm_s32le", "pcm_s32be", "pcm_f32le", "pcm_f32be",
          "pcm_f64le", "pcm_u8", "pcm_s8", "pcm_alaw", "pcm_mulaw", "pcm_dvd", "pcm_bluray", "adpcm_ima_wav",
          "adpcm_ima_qt", "adpcm_ms", "adpcm_swf", "wmav1", "wmav2", "wmapro", "wmavoice", "amr_nb", "amr_wb", "gsm",
          "gsm_ms", "nellymoser", "cook", "sipr", "ra_144", "ra_288", "qdm2"};
}

std::chrono::seconds input_policy::deadline_for(double duration_s) const {
  if (deadline.count() > 0) return deadline;
  double d = duration_s > 0 ? std::min(duration_s, max_duration_s) : max_duration_s;
  double s = static_cast<double>(deadline_base.count()) + std::max(0.0, deadline_factor) * std::max(0.0, d);
  if (!(s > 0)) return std::chrono::seconds{0};
  return std::chrono::seconds{static_cast<std::int64_t>(std::ceil(std::min(s, 1e12)))};
}

std::chrono::seconds input_policy::deadline_for_opening() const {
  if (deadline.count() > 0) return deadline;
  if (deadline_base.count() > 0) return deadline_base;
  return deadline_for(0);
}

std::string package_layout::segment_file(std::size_t n) {
  char name[32];
  std::snprintf(name, sizeof name, "seg_%05zu.m4s", n);
  return name;
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE
