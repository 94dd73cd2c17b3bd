#pragma once
// Internal: the audio group: decoded, resampled and AAC-encoded once, one track shared by every
// variant. Damage is concealed with silence where its timestamps place it, and counted; no timestamp or gap may take
// the track past the duration limit, and silence is made one encoder frame at a time.
#include <spool/media/transcode.hpp>
#include <spool/package_layout.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <optional>

#include "media/package_out.hpp"
#include "media/segmenter.hpp"

extern "C" {
#include <libavutil/channel_layout.h>
}

namespace spool::inline SPOOL_ABI_NAMESPACE::media {

// Audio: decoded, resampled and AAC-encoded once; one track shared by every variant.
class audio_branch {
 public:
  audio_branch(const audio_settings& s, AVStream* st, std::int64_t origin, track_output out, double max_duration_s)
      : settings_(s),
        st_(st),
        origin_(origin),
        out_(std::move(out)),
        max_samples_(static_cast<std::int64_t>(std::min(max_duration_s, 1e9) * s.sample_rate)) {
    track_.name = package_layout::audio_dir;
    track_.video = false;
  }

  /// What the decoder could not read and what was concealed or dropped for it.
  struct counters {
    std::int64_t packets = 0;
    std::int64_t decoded_frames = 0;
    std::int64_t bad_packets = 0;       ///< concealed with silence of their duration
    std::int64_t overlaps_dropped = 0;  ///< frames that started well before the audio written so far
    std::int64_t gaps_filled = 0;       ///< forward jumps filled with silence
    std::int64_t gap_samples = 0;
    std::int64_t tail_samples = 0;  ///< undecodable end concealed with silence
  };
  const counters& stats() const { return stats_; }

  void open() {
    const AVCodec* dcodec = avcodec_find_decoder(st_->codecpar->codec_id);
    if (!dcodec)
      av::fail(errc::codec_unsupported,
               std::string("no decoder for audio codec ") + avcodec_get_name(st_->codecpar->codec_id));
    dec_.reset(avcodec_alloc_context3(dcodec));
    if (!dec_) throw std::bad_alloc();
    av::check(avcodec_parameters_to_context(dec_.get(), st_->codecpar), "cannot set up the audio decoder");
    dec_->pkt_timebase = st_->time_base;
    int r = avcodec_open2(dec_.get(), dcodec, nullptr);
    if (r < 0) av::fail_av(r, "cannot open the audio decoder", errc::codec_unsupported);

    const AVCodec* ecodec = avcodec_find_encoder(AV_CODEC_ID_AAC);
    if (!ecodec) av::fail(errc::encoder_unavailable, "no AAC encoder in this FFmpeg");
    enc_.reset(avcodec_alloc_context3(ecodec));
    if (!enc_) throw std::bad_alloc();
    enc_->sample_rate = settings_.sample_rate;
    av_channel_layout_default(&enc_->ch_layout, settings_.channels);
    enc_->sample_fmt = AV_SAMPLE_FMT_FLTP;
    enc_->bit_rate = std::int64_t{settings_.bitrate_kbps} * 1000;
    enc_->time_base = AVRational{1, settings_.sample_rate};
    enc_->profile = FF_PROFILE_AAC_LOW;
    enc_->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    av::check(avcodec_open2(enc_.get(), ecodec, nullptr), "cannot open the AAC encoder", errc::encoder_unavailable);
    track_.sample_rate = settings_.sample_rate;
    track_.channels = settings_.channels;
    fifo_.reset(av_audio_fifo_alloc(AV_SAMPLE_FMT_FLTP, settings_.channels, 4096));
    if (!fifo_) throw std::bad_alloc();
    writer_ = std::make_unique<cmaf_writer>(out_, enc_.get(), segment_s_, track_);
    frame_ = av::make_frame();
    pkt_ = av::make_packet();
  }

  void set_segment(double s) { segment_s_ = s; }
  int stream_index() const { return st_->index; }
  track_info& track() { return track_; }
  /// Read by the progress reporter while the decode thread encodes.
  double out_time() const { return out_time_.load(std::memory_order_relaxed); }

  /// Decodes a packet (nullptr flushes the decoder).
  void decode(const AVPacket* pkt) {
    if (pkt) {
      ++stats_.packets;
      note_packet_end(pkt);
    }
    int r = avcodec_send_packet(dec_.get(), pkt);
    if (r == AVERROR(ENOMEM)) av::check(r, "cannot decode audio");
    // A corrupt packet is a glitch, not a failed lecture: it becomes silence of its own length, so
    // what follows stays in sync, and it is counted in the result's warnings.
    bool bad = r < 0 && r != AVERROR(EAGAIN) && r != AVERROR_EOF;
    for (;;) {
      r = avcodec_receive_frame(dec_.get(), frame_.get());
      if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) break;
      if (r == AVERROR(ENOMEM)) av::check(r, "cannot decode audio");
      if (r < 0) {
        bad = true;
        continue;
      }
      ++stats_.decoded_frames;
      if (frame_->sample_rate > 0)
        last_frame_samples_ = av_rescale(frame_->nb_samples, settings_.sample_rate, frame_->sample_rate);
      resample(frame_.get());
      av_frame_unref(frame_.get());
    }
    if (bad && pkt) conceal(pkt);
  }

  void finish() {
    decode(nullptr);
    if (swr_) {  // what the resampler still holds
      push_converted(nullptr, 0);
    }
    // Packets damaged past the point where a parser could still split them leave the track short of
    // where the source's packets end: that tail is concealed too.
    std::int64_t have = written_ + av_audio_fifo_size(fifo_.get());
    if (started_ && packets_end_ - have > settings_.sample_rate / 10) {
      stats_.tail_samples = packets_end_ - have;
      push_silence(packets_end_ - have);
    }
    encode_fifo(true);
    av::check(avcodec_send_frame(enc_.get(), nullptr), "cannot flush the AAC encoder");
    receive();
    writer_->finish();
  }

 private:
  void resample(AVFrame* f) {
    if (!swr_ || f->sample_rate != in_rate_ || f->format != in_fmt_ ||
        av_channel_layout_compare(&f->ch_layout, &in_layout_) != 0) {
      if (swr_) push_converted(nullptr, 0);
      SwrContext* s = nullptr;
      AVChannelLayout in_layout = f->ch_layout;
      if (in_layout.order == AV_CHANNEL_ORDER_UNSPEC) av_channel_layout_default(&in_layout, f->ch_layout.nb_channels);
      av::check(swr_alloc_set_opts2(&s, &enc_->ch_layout, AV_SAMPLE_FMT_FLTP, settings_.sample_rate, &in_layout,
                                    static_cast<AVSampleFormat>(f->format), f->sample_rate, 0, nullptr),
                "cannot set up the resampler");
      swr_.reset(s);
      av::check(swr_init(swr_.get()), "cannot set up the resampler", errc::feature_unsupported);
      in_rate_ = f->sample_rate;
      in_fmt_ = f->format;
      av_channel_layout_uninit(&in_layout_);
      av_channel_layout_copy(&in_layout_, &f->ch_layout);
    }
    std::int64_t ts = f->best_effort_timestamp;
    if (ts != AV_NOPTS_VALUE) {
      auto position = position_of(ts);
      if (!position) {
        ++stats_.overlaps_dropped;  // further before the picture than any input may last
        return;
      }
      const std::int64_t at = *position;
      if (!started_) {
        started_ = true;
        // Audio that starts after the picture is placed where it belongs; before it, trimmed.
        next_pts_ = std::max<std::int64_t>(0, at);
        written_ = next_pts_;
        to_drop_ = at < 0 ? -at : 0;
      } else {
        std::int64_t drift = at - produced();
        std::int64_t limit = settings_.sample_rate / 10;
        if (drift > limit) {
          // A gap in the source: silence keeps later audio in sync with the picture.
          ++stats_.gaps_filled;
          stats_.gap_samples += drift;
          push_silence(drift);
        } else if (drift < -limit) {
          ++stats_.overlaps_dropped;
          return;  // overlapping audio: dropped rather than pushing everything late
        }
      }
    } else if (!started_) {
      started_ = true;
    }
    push_converted(f->extended_data, f->nb_samples);
  }

  // Where a source timestamp falls in the output, in samples from the origin. One past the duration
  // limit is too_long; one further before the picture than any input may last is nullopt. Checked
  // before any arithmetic that could overflow: a crafted timestamp can be anywhere in int64.
  std::optional<std::int64_t> position_of(std::int64_t ts) const {
    const std::int64_t ts_limit = av_rescale_q(max_samples_, AVRational{1, settings_.sample_rate}, st_->time_base);
    std::int64_t rel = 0;
    bool overflow = __builtin_sub_overflow(ts, origin_, &rel);
    if ((overflow && ts > origin_) || rel > ts_limit) fail_too_long();
    if (overflow || rel < -ts_limit) return std::nullopt;
    return av_rescale_q(rel, st_->time_base, AVRational{1, settings_.sample_rate});
  }

  // The samples the track holds so far, written, buffered or inside the resampler.
  std::int64_t produced() const {
    return written_ + av_audio_fifo_size(fifo_.get()) + (swr_ ? swr_get_delay(swr_.get(), settings_.sample_rate) : 0);
  }

  // A packet that did not decode becomes silence where its timestamp puts it, and only the part
  // past what the track already holds: a damaged packet that repeats earlier time (a chained or
  // concatenated stream going back) adds nothing, as a decoded one would have been dropped. Nor does
  // concealment run past where the source's packets end (an estimated length can overshoot); the
  // next timestamp or the tail fills what is left.
  void conceal(const AVPacket* pkt) {
    ++stats_.bad_packets;
    if (!started_) return;
    const std::int64_t length = concealed_length(pkt);
    std::int64_t end = 0;
    if (pkt->pts == AV_NOPTS_VALUE) {
      end = produced() + length;
    } else {
      auto at = position_of(pkt->pts);
      if (!at) return;
      if (__builtin_add_overflow(*at, length, &end)) fail_too_long();
    }
    if (packets_end_ > 0) end = std::min(end, packets_end_);
    push_silence(end - produced());
  }

  // One encoder frame of silence at a time, however long the gap: memory stays that of a frame,
  // and the duration limit stops a gap that runs past it on the way.
  void push_silence(std::int64_t n) {
    if (n <= 0) return;
    if (n > max_samples_) fail_too_long();
    int chunk = enc_->frame_size > 0 ? enc_->frame_size : 1024;
    if (!silence_) {
      silence_ = av::make_frame();
      silence_->nb_samples = chunk;
      silence_->format = AV_SAMPLE_FMT_FLTP;
      av_channel_layout_copy(&silence_->ch_layout, &enc_->ch_layout);
      av::check(av_frame_get_buffer(silence_.get(), 0), "cannot allocate silence");
      av_samples_set_silence(silence_->extended_data, 0, chunk, settings_.channels, AV_SAMPLE_FMT_FLTP);
    }
    while (n > 0) {
      int k = static_cast<int>(std::min<std::int64_t>(n, chunk));
      av::check(av_audio_fifo_write(fifo_.get(), reinterpret_cast<void**>(silence_->extended_data), k),
                "cannot buffer audio");
      n -= k;
      encode_fifo(false);
    }
  }

  // How much audio a packet that failed to decode stood for: its own duration; else its size at the
  // stream's bit rate (a parser that lost sync hands over everything up to the next frame it finds
  // as one packet); else the length of the last frame that decoded.
  std::int64_t concealed_length(const AVPacket* pkt) const {
    const int rate = settings_.sample_rate;
    if (pkt->duration > 0) return av_rescale_q(pkt->duration, st_->time_base, AVRational{1, rate});
    std::int64_t bit_rate = st_->codecpar->bit_rate;
    if (bit_rate > 0 && pkt->size > 0)
      return std::max(last_frame_samples_, av_rescale(static_cast<std::int64_t>(pkt->size) * 8, rate, bit_rate));
    return last_frame_samples_;
  }

  // Where the source's packets say the audio ends, at the output rate; timestamps outside the
  // duration limit are left to resample(), which refuses them.
  void note_packet_end(const AVPacket* pkt) {
    if (pkt->pts == AV_NOPTS_VALUE) return;
    std::int64_t rel = 0, end = 0;
    if (__builtin_sub_overflow(pkt->pts, origin_, &rel) ||
        __builtin_add_overflow(rel, std::max<std::int64_t>(pkt->duration, 0), &end))
      return;
    const std::int64_t ts_limit = av_rescale_q(max_samples_, AVRational{1, settings_.sample_rate}, st_->time_base);
    if (end <= 0 || end > ts_limit) return;
    packets_end_ = std::max(packets_end_, av_rescale_q(end, st_->time_base, AVRational{1, settings_.sample_rate}));
  }

  [[noreturn]] void fail_too_long() const {
    av::fail(errc::too_long, fmt::format("the audio runs past the duration limit of {:.0f} s",
                                         static_cast<double>(max_samples_) / settings_.sample_rate));
  }

  void push_converted(std::uint8_t** data, int n) {
    int cap = swr_get_out_samples(swr_.get(), n);
    if (cap <= 0) return;
    auto out = av::make_frame();
    out->nb_samples = cap;
    out->format = AV_SAMPLE_FMT_FLTP;
    av_channel_layout_copy(&out->ch_layout, &enc_->ch_layout);
    av::check(av_frame_get_buffer(out.get(), 0), "cannot allocate audio");
    int got = swr_convert(swr_.get(), out->extended_data, cap, const_cast<const std::uint8_t**>(data), n);
    av::check(got, "cannot resample audio");
    if (got > 0)
      av::check(av_audio_fifo_write(fifo_.get(), reinterpret_cast<void**>(out->extended_data), got),
                "cannot buffer audio");
    if (to_drop_ > 0) {
      int drop = static_cast<int>(std::min<std::int64_t>(to_drop_, av_audio_fifo_size(fifo_.get())));
      av_audio_fifo_drain(fifo_.get(), drop);
      to_drop_ -= drop;
    }
    encode_fifo(false);
  }

  void encode_fifo(bool final) {
    int fs = enc_->frame_size > 0 ? enc_->frame_size : 1024;
    while (av_audio_fifo_size(fifo_.get()) >= fs || (final && av_audio_fifo_size(fifo_.get()) > 0)) {
      int n = std::min(fs, av_audio_fifo_size(fifo_.get()));
      auto f = av::make_frame();
      f->nb_samples = n;
      f->format = AV_SAMPLE_FMT_FLTP;
      f->sample_rate = settings_.sample_rate;
      av_channel_layout_copy(&f->ch_layout, &enc_->ch_layout);
      av::check(av_frame_get_buffer(f.get(), 0), "cannot allocate audio");
      av_audio_fifo_read(fifo_.get(), reinterpret_cast<void**>(f->extended_data), n);
      if (next_pts_ + n > max_samples_) fail_too_long();
      f->pts = next_pts_;
      next_pts_ += n;
      written_ += n;
      out_time_.store(static_cast<double>(next_pts_) / settings_.sample_rate, std::memory_order_relaxed);
      check_own(avcodec_send_frame(enc_.get(), f.get()), "cannot encode audio");
      receive();
    }
  }

  void receive() {
    for (;;) {
      int r = avcodec_receive_packet(enc_.get(), pkt_.get());
      if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) break;
      check_own(r, "cannot encode audio");
      writer_->write(pkt_.get());
      av_packet_unref(pkt_.get());
    }
  }

  audio_settings settings_;
  AVStream* st_;
  std::int64_t origin_;
  track_output out_;
  double segment_s_ = 6;
  track_info track_;
  av::codec_ptr dec_, enc_;
  av::swr_ptr swr_;
  av::fifo_ptr fifo_;
  std::unique_ptr<cmaf_writer> writer_;
  av::frame_ptr frame_;
  av::packet_ptr pkt_;
  int in_rate_ = 0, in_fmt_ = -1;
  AVChannelLayout in_layout_{};
  bool started_ = false;
  std::int64_t next_pts_ = 0, written_ = 0;
  std::atomic<double> out_time_{0};
  std::int64_t to_drop_ = 0;  ///< samples before the first picture, still to trim
  std::int64_t max_samples_;
  std::int64_t last_frame_samples_ = 0;  ///< at the output rate
  std::int64_t packets_end_ = 0;         ///< at the output rate, relative to the origin
  av::frame_ptr silence_;
  counters stats_;
};

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::media
