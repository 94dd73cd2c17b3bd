#pragma once
// Chunked encoding: a long input's ladder encoded as independent time ranges on the segment grid
// (any worker encodes any chunk), plus one job that makes what is made once from the whole input
// (the audio track, the thumbnails), and a stitch that assembles their packages into the one an
// unchunked transcode writes, copying every segment byte for byte.
//
// The flow: plan_chunks() splits the probed duration; each chunk is a media::transcode() with
// transcode_options::chunk = that span, and the whole-input part one with chunk = whole_input_span();
// each writes chunk.json (below) instead of manifests; stitch() reads them back and writes the
// manifests and result.json over the copied segments. A chunked package has no progressive MP4
// (plan.packaging.progressive): making one would mean re-muxing every chunk.
#include <spool/error.hpp>
#include <spool/io.hpp>
#include <spool/media/transcode.hpp>
#include <spool/plan.hpp>
#include <spool/version.hpp>

#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace spool::inline SPOOL_ABI_NAMESPACE::media {

/// The name of the description a chunk's package carries instead of manifests.
inline constexpr std::string_view chunk_manifest = "chunk.json";

/// The index of the whole-input part (see whole_input_span()).
inline constexpr int whole_input_index = -1;

// chunk_span, one chunk's range, is in spool/media/transcode.hpp (transcode_options::chunk holds one).

/// Splits `duration_s` on the segment grid into chunks of about `chunk_s`, rounded to whole segments
/// (at least one). A tail shorter than half a chunk joins the chunk before it; an input shorter than
/// one chunk is one chunk. Pure. errc::invalid_argument when an argument is not a finite positive
/// number, or when there would be more than a million segments.
SPOOL_API result<std::vector<chunk_span>> plan_chunks(double duration_s, double segment_s, double chunk_s);

/// The span of the whole-input part of a chunked job (index whole_input_index, all of the input):
/// transcode() with it encodes the audio track (when the plan and the input have audio) and writes the
/// poster and storyboard (when the plan asks for them) - the things made once from the whole input -
/// and no video rung. Its chunk.json also holds the input's description (the probe), which the
/// stitched result.json reports.
SPOOL_API chunk_span whole_input_span();

// transcode_options::chunk (spool/media/transcode.hpp) set to a span of plan_chunks(): transcode()
// encodes only the video rungs over that time range (audio, thumbnails, the progressive MP4 and
// progressive publishing are off), seeking the input to the keyframe before start_s, dropping the
// decoded frames before start_s and stopping at end_s. Keyframes stay on the absolute grid (multiples
// of gop_s), segments are numbered from first_segment + 1 and every timestamp is the lecture's own (a
// segment's tfdt and earliest presentation time are its time in the whole lecture), so chunks'
// segments put end to end play as one track. Before writing chunk.json it verifies itself: every
// rung has exactly `segments` segments (the last chunk: as many as the input gives), each starting
// with a keyframe, as many frames as the range holds at the output rate, and the range's duration
// (within a frame), each segment on its grid line, all of it read back from the bytes given to the
// sink; a failure is errc::internal with the detail, retried like any job's. A span that is not on the
// plan's grid (start_s = first_segment x segment_s, end_s the line after its last segment or +inf) is
// errc::invalid_argument. The chunk's package holds chunk.json and the rungs' folders, no result.json.
// Progress (transcode_options::on_progress) runs from 0 to 1 over the chunk's own range.
//
// chunk.json: {"version":1, "index", "first_segment", "segments", "start_s", "end_s" (null: to the end),
//   "tracks":[{"name", "kind" ("video"|"audio"), "codecs", "width", "height", "frame_rate":[num,den],
//              "sample_rate", "channels", "timescale", "init_bytes", "init_sha256", "frames",
//              "segments":[{"start","duration","bytes"}, ...]}, ...],
//   "files":[...]  (whole-input part: the thumbnail files it wrote),
//   "input":{...}  (whole-input part: the probe, as in result.json),
//   "warnings":[{"code","message","count"}, ...]}
// Segment start and duration are in the track's timescale, start being the time in the lecture.

/// What stitch() assembles: the chunk.json text of every chunk, in index order, and of the
/// whole-input part (absent: a package without audio and thumbnails).
struct SPOOL_API stitch_input {
  std::vector<std::string> chunk_json;
  std::optional<std::string> whole_input_json;
};

/// Reads one file of a part's package by its name in that package: read(2, "720p/seg_00041.m4s") is
/// chunk 2's; read(whole_input_index, "audio/init.mp4") the whole-input part's.
using chunk_reader = std::function<result<std::string>(int chunk, std::string_view name)>;

/// Writes the package of a chunked job into `sink` (not committed: the caller commits or aborts it):
/// every segment copied byte for byte (never re-muxed), each rung's init.mp4 from chunk 0 (every other
/// chunk's must be byte-identical to it, checked against the bytes read), the audio track and
/// thumbnails from the whole-input part, then the media playlists, master.m3u8, manifest.mpd and,
/// last, result.json exactly as an unchunked transcode writes them (the same manifest code). Checks
/// that the chunks fit together: indices 0..n-1, the same rungs in each, segment numbering contiguous,
/// each chunk's first segment starting where the previous chunk's last ended (within one frame), and
/// every file's size as its chunk.json says. `result` is filled like transcode()'s (renditions,
/// files, duration, warnings of every part); its `input` is left as the caller set it, while
/// result.json reports the input as the whole-input part's chunk.json describes it. A malformed or
/// inconsistent part is errc::internal naming the chunk (and rung); the sink's own failures keep their
/// codes; nothing is committed either way.
SPOOL_API error stitch(const plan& p, const stitch_input& parts, const chunk_reader& read, io::package_sink& sink,
                       transcode_result& result);

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::media
