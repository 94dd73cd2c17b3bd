#include "media/manifest.hpp"

#include <spool/package_layout.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace spool::inline SPOOL_ABI_NAMESPACE::media {
namespace {

std::string frame_rate_str(AVRational r) { return fmt::format("{:.3f}", av::q2d(r)); }

std::string iso_duration(double s) { return fmt::format("PT{:.3f}S", s); }

}  // namespace

std::int64_t growing_manifest::bandwidth_of(const track_info& t) const {
  for (const auto& [name, bps] : bandwidth)
    if (name == t.name && bps > 0) return bps;
  // No cap declared: what was measured so far, with room for what is still to come.
  return std::max<std::int64_t>(t.peak_bitrate(), 2 * t.avg_bitrate());
}

std::string hls_media_playlist(const track_info& t, const growing_manifest* growing) {
  std::string out = "#EXTM3U\n#EXT-X-VERSION:7\n";
  // A growing playlist keeps its target duration (RFC 8216 4.3.3.1: it must not change), so it is the
  // segment length, which every segment's EXTINF rounded to the nearest second stays within (the
  // rule the RFC sets): an audio segment runs at most one AAC frame past its line.
  std::int64_t target = t.target_duration_s();
  if (growing) {
    std::int64_t longest = 0;
    for (const auto& s : t.segments) longest = std::max(longest, s.duration);
    const auto rounded = static_cast<std::int64_t>(std::llround(static_cast<double>(longest) / t.timescale));
    target = std::max(growing->target_duration_s, rounded);
  }
  out += fmt::format("#EXT-X-TARGETDURATION:{}\n", target);
  const bool event = growing && !growing->finished;
  out += fmt::format("#EXT-X-MEDIA-SEQUENCE:1\n#EXT-X-PLAYLIST-TYPE:{}\n#EXT-X-INDEPENDENT-SEGMENTS\n",
                     event ? "EVENT" : "VOD");
  // An EVENT playlist otherwise starts players near its live edge; a lecture is watched from the start.
  if (event) out += "#EXT-X-START:TIME-OFFSET=0,PRECISE=YES\n";
  out += fmt::format("#EXT-X-MAP:URI=\"{}\"\n", package_layout::init);
  for (std::size_t i = 0; i < t.segments.size(); ++i)
    out += fmt::format("#EXTINF:{:.6f},\n{}\n", static_cast<double>(t.segments[i].duration) / t.timescale,
                       package_layout::segment_file(i + 1));
  if (!event) out += "#EXT-X-ENDLIST\n";
  return out;
}

std::string hls_master_playlist(const std::vector<track_info>& video, const track_info* audio,
                                const growing_manifest* growing) {
  std::string out = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n";
  if (video.empty()) {
    if (audio && growing)
      out += fmt::format("#EXT-X-STREAM-INF:BANDWIDTH={},CODECS=\"{}\"\n{}/{}\n", growing->bandwidth_of(*audio),
                         audio->codecs, audio->name, package_layout::media_playlist);
    else if (audio)
      out += fmt::format("#EXT-X-STREAM-INF:BANDWIDTH={},AVERAGE-BANDWIDTH={},CODECS=\"{}\"\n{}/{}\n",
                         audio->peak_bitrate(), std::min(audio->peak_bitrate(), audio->avg_bitrate()), audio->codecs,
                         audio->name, package_layout::media_playlist);
    return out;
  }
  if (audio)
    out += fmt::format(
        "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"audio\",NAME=\"default\",LANGUAGE=\"und\",DEFAULT=YES,AUTOSELECT=YES,"
        "CHANNELS=\"{}\",URI=\"{}/{}\"\n",
        audio->channels, audio->name, package_layout::media_playlist);
  // Highest first: players start with the first variant listed unless told otherwise. BANDWIDTH adds
  // the video and audio peaks: their peak windows need not coincide, so the sum is an upper bound on
  // the peak of the combined stream (RFC 8216bis asks for the largest sum of peaks in any case).
  for (const auto& v : video) {
    std::string codecs = audio ? v.codecs + "," + audio->codecs : v.codecs;
    if (growing) {
      // The peaks are not known until the end; the final master carries them.
      out += fmt::format("#EXT-X-STREAM-INF:BANDWIDTH={},CODECS=\"{}\",RESOLUTION={}x{},FRAME-RATE={}",
                         growing->bandwidth_of(v) + (audio ? growing->bandwidth_of(*audio) : 0), codecs, v.width,
                         v.height, frame_rate_str(v.frame_rate));
      if (audio) out += ",AUDIO=\"audio\"";
      out += fmt::format("\n{}/{}\n", v.name, package_layout::media_playlist);
      continue;
    }
    std::int64_t peak = v.peak_bitrate() + (audio ? audio->peak_bitrate() : 0);
    // The average over the whole track never exceeds the peak of its windows; the min only guards the
    // last bit of rounding.
    std::int64_t avg = std::min(peak, v.avg_bitrate() + (audio ? audio->avg_bitrate() : 0));
    out +=
        fmt::format("#EXT-X-STREAM-INF:BANDWIDTH={},AVERAGE-BANDWIDTH={},CODECS=\"{}\",RESOLUTION={}x{},FRAME-RATE={}",
                    peak, avg, codecs, v.width, v.height, frame_rate_str(v.frame_rate));
    if (audio) out += ",AUDIO=\"audio\"";
    out += fmt::format("\n{}/{}\n", v.name, package_layout::media_playlist);
  }
  return out;
}

namespace {

std::string segment_timeline(const track_info& t) {
  std::string out = "          <SegmentTimeline>\n";
  std::size_t i = 0;
  while (i < t.segments.size()) {
    // Runs of equal, contiguous segments collapse into one S element with a repeat count.
    std::size_t j = i + 1;
    while (j < t.segments.size() && t.segments[j].duration == t.segments[i].duration &&
           t.segments[j].start == t.segments[j - 1].start + t.segments[j - 1].duration)
      ++j;
    out += fmt::format("            <S t=\"{}\" d=\"{}\"", t.segments[i].start, t.segments[i].duration);
    if (j - i > 1) out += fmt::format(" r=\"{}\"", j - i - 1);
    out += "/>\n";
    i = j;
  }
  out += "          </SegmentTimeline>\n";
  return out;
}

// `growing`: each listed segment may be fetched as soon as it is listed, whatever the wall clock says.
std::string segment_template(const track_info& t, bool growing) {
  return fmt::format(
             "        <SegmentTemplate timescale=\"{}\" initialization=\"{}/{}\" media=\"{}/{}\" "
             "startNumber=\"1\"{}>\n",
             t.timescale, t.name, package_layout::init, t.name, package_layout::segment_template,
             growing ? " availabilityTimeOffset=\"INF\"" : "") +
         segment_timeline(t) + "        </SegmentTemplate>\n";
}

}  // namespace

std::string dash_manifest(const std::vector<track_info>& video, const track_info* audio, double duration_s,
                          const growing_manifest* growing) {
  std::string out = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n";
  if (growing)
    // Dynamic, without a time-shift window (all of it stays available) and with a presentation delay
    // longer than any job, so a player left to itself starts at 0, not at the live edge;
    // minimumUpdatePeriod makes it reload the MPD as it grows.
    out += fmt::format(
        "<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" profiles=\"urn:mpeg:dash:profile:isoff-live:2011\" "
        "type=\"dynamic\" availabilityStartTime=\"{}\" publishTime=\"{}\" minimumUpdatePeriod=\"PT2S\" "
        "suggestedPresentationDelay=\"PT48H\" minBufferTime=\"PT4S\">\n",
        growing->availability_start, growing->publish_time);
  else
    out += fmt::format(
        "<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" profiles=\"urn:mpeg:dash:profile:isoff-live:2011\" "
        "type=\"static\" mediaPresentationDuration=\"{}\" minBufferTime=\"PT4S\">\n",
        iso_duration(duration_s));
  out += "  <Period id=\"0\" start=\"PT0S\">\n";
  int set_id = 0;
  if (!video.empty()) {
    int max_w = 0, max_h = 0;
    for (const auto& v : video) {
      max_w = std::max(max_w, v.width);
      max_h = std::max(max_h, v.height);
    }
    out += fmt::format(
        "    <AdaptationSet id=\"{}\" contentType=\"video\" mimeType=\"video/mp4\" segmentAlignment=\"true\" "
        "startWithSAP=\"1\" maxWidth=\"{}\" maxHeight=\"{}\" frameRate=\"{}/{}\">\n",
        set_id++, max_w, max_h, video.front().frame_rate.num, video.front().frame_rate.den);
    for (const auto& v : video) {
      out += fmt::format(
          "      <Representation id=\"{}\" bandwidth=\"{}\" codecs=\"{}\" width=\"{}\" height=\"{}\" sar=\"1:1\">\n",
          v.name, growing ? growing->bandwidth_of(v) : v.peak_bitrate(), v.codecs, v.width, v.height);
      out += segment_template(v, growing != nullptr);
      out += "      </Representation>\n";
    }
    out += "    </AdaptationSet>\n";
  }
  if (audio) {
    out += fmt::format(
        "    <AdaptationSet id=\"{}\" contentType=\"audio\" mimeType=\"audio/mp4\" lang=\"und\" "
        "segmentAlignment=\"true\" startWithSAP=\"1\">\n",
        set_id);
    out += fmt::format("      <Representation id=\"{}\" bandwidth=\"{}\" codecs=\"{}\" audioSamplingRate=\"{}\">\n",
                       audio->name, growing ? growing->bandwidth_of(*audio) : audio->peak_bitrate(), audio->codecs,
                       audio->sample_rate);
    out += fmt::format(
        "        <AudioChannelConfiguration schemeIdUri=\"urn:mpeg:dash:23003:3:audio_channel_configuration:2011\" "
        "value=\"{}\"/>\n",
        audio->channels);
    out += segment_template(*audio, growing != nullptr);
    out += "      </Representation>\n    </AdaptationSet>\n";
  }
  out += "  </Period>\n";
  // The clock to measure availability by: the MPD's own time, so players ask no outside server.
  if (growing)
    out += fmt::format("  <UTCTiming schemeIdUri=\"urn:mpeg:dash:utc:direct:2014\" value=\"{}\"/>\n",
                       growing->publish_time);
  out += "</MPD>\n";
  return out;
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::media
