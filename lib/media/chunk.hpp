#pragma once
// Internal: how one chunk of a chunked job is cut out of the input, and checked and described once
// encoded (spool/media/chunks.hpp).
#include <spool/media/chunks.hpp>

#include <map>
#include <string>
#include <vector>

#include "media/av.hpp"
#include "media/pipeline.hpp"
#include "media/segmenter.hpp"

namespace spool::inline SPOOL_ABI_NAMESPACE::media {

/// A video chunk (not the whole-input part).
inline bool is_video_chunk(const transcode_options& o) { return o.chunk && o.chunk->index >= 0; }
inline bool is_whole_input(const transcode_options& o) { return o.chunk && o.chunk->index == whole_input_index; }

/// Whether the output frame at `t` seconds belongs to the chunk: the encoder gives a grid line's
/// keyframe to the first frame within half a frame of it, so a chunk's frames are those whose time
/// plus half a frame reaches its start and not its end.
bool chunk_admits(const chunk_span& c, double t, AVRational out_rate);

/// Decoded frames past this time (seconds of the lecture) are no longer needed by the chunk: the
/// fps stage has what it needs to emit the chunk's last frame.
double chunk_read_end(const chunk_span& c);

/// Where a chunk's decoding starts: a keyframe a second before the chunk (the fps stage must see the
/// frame that fills its first slot), and further back (10 s, 60 s, then the input's start) whenever
/// the first frame decoded after a seek comes later than the chunk's first frame: a demuxer that
/// seeks by timestamps (MPEG-TS) may land between keyframes, and the decoder then skips to the next.
/// An input that cannot seek is read from its start, the frames before the chunk dropped.
class chunk_seeker {
 public:
  chunk_seeker(AVFormatContext* ctx, int stream, std::int64_t origin, const chunk_span& c, AVRational out_rate);
  /// False when a decoded frame at `t` (seconds of the lecture) is to be dropped: it came too late
  /// after a seek, and the next read must wait for reseek().
  bool accept(double t);
  bool pending() const noexcept { return pending_; }
  /// Seeks further back and flushes the decoder.
  void reseek(AVCodecContext* dec);

 private:
  void seek();
  AVFormatContext* ctx_;
  int stream_;
  std::int64_t origin_;
  double start_s_, first_frame_s_, back_s_ = 1;
  bool checking_ = false, pending_ = false;
};

/// What a chunk's sink saw: init.mp4 and every segment's bytes summarised, per rendition folder.
struct fragment_summary {
  std::int64_t tfdt = -1;  ///< the first fragment's base media decode time
  std::int64_t samples = 0;
  std::int64_t duration = 0;  ///< sum of the sample durations
  std::int64_t bytes = 0;
  bool starts_with_sync = false;
};
struct chunk_record {
  std::map<std::string, std::string> init_sha256;                            ///< by rendition folder
  std::map<std::string, std::map<std::int64_t, fragment_summary>> segments;  ///< folder -> number -> summary
};

/// Reads a CMAF segment's moof/traf/tfdt/trun boxes; errc::internal when they are malformed.
fragment_summary summarize_fragment(std::string_view segment);
/// The SHA-256 of `bytes`, lowercase hex.
std::string sha256_hex(std::string_view bytes);

/// A package sink that passes everything on and records what chunk_record says.
class recording_sink final : public io::package_sink {
 public:
  explicit recording_sink(io::package_sink& inner) : inner_(inner) {}
  io::sink_capabilities caps() const noexcept override { return {}; }
  error put(std::string_view name, std::span<const std::byte> bytes) override;
  error put_file(std::string_view name, const std::filesystem::path& local_file) override {
    return inner_.put_file(name, local_file);
  }
  error put_manifest(std::string_view name, std::string_view text) override { return inner_.put_manifest(name, text); }
  error commit(const std::function<error()>& check) override { return inner_.commit(check); }
  void abort() noexcept override { inner_.abort(); }
  const chunk_record& record() const { return record_; }

 private:
  io::package_sink& inner_;
  chunk_record record_;
};

/// errc::invalid_argument unless options.chunk is the whole-input span or a span of the plan's grid
/// (start on its first segment's line, end on the line after its last or open-ended).
error validate_chunk(const transcode_options& opt);

/// Whether the whole-input part has anything to make from this input (audio, thumbnails).
bool whole_input_has_work(const plan& p, const probe_result& probe);

/// Checks an encoded chunk against its span (segments, keyframes, frames, duration, timestamps, from
/// the bytes the sink saw), then writes chunk.json; errc::internal (thrown as av::failure) when it
/// does not hold.
void finish_chunk(const transcode_options& opt, const chunk_record& seen, const pipeline_output& out,
                  const transcode_result& result, io::package_sink& sink);

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::media
