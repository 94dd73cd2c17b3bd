#pragma once
// Internal: the remux fast path. A source whose video is already fit to be the top rung is copied
// into it packet by packet; the source's keyframes then set where every rung's keyframes and
// segments fall, so all rungs share one segment grid.
#include <spool/media/transcode.hpp>

#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "media/av.hpp"
#include "media/input.hpp"
#include "media/ladder.hpp"
#include "media/package_out.hpp"
#include "media/segmenter.hpp"
#include "media/threads.hpp"

namespace spool::inline SPOOL_ABI_NAMESPACE::media {

struct remux_decision {
  bool use = false;
  std::string note;      ///< why the source is or is not copied, in words
  std::size_t rung = 0;  ///< index into the planned rungs of the one the source becomes
  /// Decode timestamps (stream time base) of the source's keyframes, and of those that open a segment.
  std::vector<std::int64_t> key_dts, cut_dts;
  double longest_key_gap_s = 0;
  std::int64_t peak_bps = 0;  ///< the copied rung's highest segment bit rate, from the source's index
};

/// Whether the video stream `vi` of `ctx` can be the top rung of `rungs` as it is. `first_segment_s`
/// (> 0 when the package grows) is how long the first segment should be at most.
remux_decision decide_remux(const AVFormatContext* ctx, int vi, const stream_info& si, const transcode_options& opt,
                            const std::vector<rung_plan>& rungs, AVRational out_rate, double first_segment_s,
                            bool seekable);

/// Where the source's keyframes fall, shared by the thread that reads the source (which adds each
/// keyframe as it reads it, before its picture is decoded) and the encoders and writers (which force
/// and cut there). Times are seconds from the first picture.
class cut_schedule {
 public:
  void add(double t, bool cut);
  /// Whether a keyframe (or a cut, with `cuts`) lies in (after, upto].
  bool any_between(double after, double upto, bool cuts) const;

 private:
  mutable std::mutex mutex_;
  std::vector<double> keys_, cuts_;
};

/// Adds a packet of the source's video to `schedule` when it is a keyframe (a cut when the decision
/// says so). The decode thread calls it before it decodes the packet.
void note_keyframe(cut_schedule& schedule, const remux_decision& d, const AVPacket* pkt, std::int64_t origin,
                   AVRational tb);

/// One source read by two demuxers (the decoder's and the copy's): their reads take turns, as a
/// byte_source is used from one thread at a time.
class shared_source final : public io::byte_source {
 public:
  explicit shared_source(io::byte_source& inner) : inner_(inner) {}
  result<std::size_t> read_at(std::int64_t offset, std::span<std::byte> buffer) override;
  std::int64_t size() const noexcept override { return inner_.size(); }
  bool seekable() const noexcept override { return inner_.seekable(); }
  std::string name() const override { return inner_.name(); }
  /// Installed while any reader is open; cleared when the last one closes.
  void set_interrupt(io::interrupt_check check) override;

 private:
  io::byte_source& inner_;
  std::mutex mutex_;
  int readers_ = 0;
};

/// The copied rung, on its own thread with its own demuxer over the source: it reads only the video
/// stream's packets, with no decoding, so it runs far ahead of the encoded rungs and the whole lecture
/// is seekable at the top rung's quality long before they finish. Timestamps move to the package's
/// origin; segments are cut at the source keyframes the decision chose.
class remux_track {
 public:
  remux_track(io::byte_source& source, const transcode_options& opt, const input_guard& guard, int stream,
              std::int64_t origin, const remux_decision& d, const rung_plan& rp, track_output out, const AVStream* st);
  remux_track(const remux_track&) = delete;
  remux_track& operator=(const remux_track&) = delete;
  ~remux_track();

  /// Runs the copy on its own thread; a failure goes to `run`, and `done` hears when it ends.
  void start(run_state& run, completion& done);
  void join();
  track_info& track() { return track_; }
  const std::string& name() const { return track_.name; }
  double out_time() const { return out_time_.load(std::memory_order_relaxed); }
  std::int64_t frames() const { return frames_.load(std::memory_order_relaxed); }

 private:
  void copy(run_state& run);
  void write(const AVPacket* pkt);

  io::byte_source& source_;
  const transcode_options& opt_;
  input_guard guard_;  ///< its own: the two readers' guards are written from their own threads
  int stream_;
  AVRational tb_;
  std::int64_t origin_;
  std::int64_t last_dts_ = AV_NOPTS_VALUE;
  const remux_decision& decision_;
  cut_schedule own_cuts_;  ///< this thread's: it runs ahead of the decode thread's schedule
  av::codec_ptr par_;
  track_info track_;
  std::unique_ptr<cmaf_writer> writer_;
  av::packet_ptr pkt_;
  std::thread thread_;
  std::atomic<double> out_time_{0};
  std::atomic<std::int64_t> frames_{0};
};

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::media
