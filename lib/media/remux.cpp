#include "media/remux.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
}

namespace spool::inline SPOOL_ABI_NAMESPACE::media {
namespace {

// How far over the top rung's cap a copied source may run: the cap is what the encoder aims under,
// and a source a little above it still plays where that rung does.
constexpr double cap_margin = 1.25;

bool h264_profile_fits(int profile) {
  switch (profile) {
    case FF_PROFILE_H264_BASELINE:
    case FF_PROFILE_H264_CONSTRAINED_BASELINE:
    case FF_PROFILE_H264_MAIN:
    case FF_PROFILE_H264_EXTENDED:
    case FF_PROFILE_H264_HIGH: return true;
    default: return false;
  }
}

const char* h264_profile_name(int profile) {
  switch (profile) {
    case FF_PROFILE_H264_BASELINE: return "Baseline";
    case FF_PROFILE_H264_CONSTRAINED_BASELINE: return "Constrained Baseline";
    case FF_PROFILE_H264_MAIN: return "Main";
    case FF_PROFILE_H264_EXTENDED: return "Extended";
    case FF_PROFILE_H264_HIGH: return "High";
    default: return "beyond High";
  }
}

// Which keyframes open a segment: each segment runs as long as it can without passing the target
// (the first one's target may be shorter), so segments end on keyframes at most a target long.
std::vector<std::int64_t> choose_cuts(const std::vector<std::int64_t>& keys, std::int64_t end, std::int64_t target,
                                      std::int64_t first_target, std::int64_t tolerance) {
  std::vector<std::int64_t> cuts;
  if (keys.empty()) return cuts;
  std::int64_t last = keys.front();
  for (std::size_t i = 1; i < keys.size(); ++i) {
    std::int64_t limit = (cuts.empty() ? first_target : target) + tolerance;
    std::int64_t next = i + 1 < keys.size() ? keys[i + 1] : end;
    if (next - last > limit) {
      cuts.push_back(keys[i]);
      last = keys[i];
    }
  }
  return cuts;
}

}  // namespace

remux_decision decide_remux(const AVFormatContext* ctx, int vi, const stream_info& si, const transcode_options& opt,
                            const std::vector<rung_plan>& rungs, AVRational out_rate, double first_segment_s,
                            bool seekable) {
  remux_decision d;
  const plan& p = opt.plan;
  const bool wanted = p.video.remux == "on" || (p.video.remux == "auto" && opt.remux_by_default);
  auto no = [&](std::string why) {
    d.use = false;
    d.note = "re-encoded: " + std::move(why);
    d.key_dts.clear();
    d.cut_dts.clear();
    return d;
  };
  if (!wanted) return no("the plan does not copy the source (video.remux)");
  if (vi < 0 || rungs.empty()) return no("there is no video rung");
  if (opt.chunk) return no("a part of a chunked job is encoded like every other part");
  if (!seekable) return no("the input can only be read forward, and the copy reads it a second time");
  const AVStream* st = ctx->streams[vi];
  const AVCodecParameters* par = st->codecpar;
  std::size_t top = 0;
  for (std::size_t i = 1; i < rungs.size(); ++i)
    if (static_cast<std::int64_t>(rungs[i].g.width) * rungs[i].g.height >
        static_cast<std::int64_t>(rungs[top].g.width) * rungs[top].g.height)
      top = i;
  const rung_plan& rp = rungs[top];
  d.rung = top;
  if (p.video.codec != "libx264") return no("the ladder is not H.264 (" + p.video.codec + ")");
  if (par->codec_id != AV_CODEC_ID_H264)
    return no(fmt::format("the source's video is {}, not H.264", avcodec_get_name(par->codec_id)));
  if (!h264_profile_fits(par->profile))
    return no(fmt::format("the source's H.264 profile ({}) is beyond High", par->profile));
  if (par->format != AV_PIX_FMT_YUV420P || par->color_range == AVCOL_RANGE_JPEG)
    return no("the source's pictures are not 8-bit 4:2:0 in video range (" + si.pix_fmt + ")");
  if (si.interlaced) return no("the source is interlaced");
  if (si.rotation != 0) return no(fmt::format("the source is shown rotated by {} degrees", si.rotation));
  AVRational sar = st->sample_aspect_ratio.num > 0 ? st->sample_aspect_ratio : par->sample_aspect_ratio;
  if (sar.num > 0 && sar.num != sar.den) return no("the source's pixels are not square");
  if (par->width != rp.g.width || par->height != rp.g.height)
    return no(fmt::format("the source is {}x{}, the top rung {} is {}x{}", par->width, par->height, rp.r.name,
                          rp.g.width, rp.g.height));
  if (std::max(par->width, par->height) > 1920 || std::min(par->width, par->height) > 1080)
    return no("the source is larger than 1080p");
  if (!par->extradata || par->extradata_size < 7 || par->extradata[0] != 1)
    return no("the source's H.264 parameter sets are not in an MP4 sample description");
  if (!ctx->iformat || std::string_view(ctx->iformat->name).find("mp4") == std::string_view::npos)
    return no("the source is not an MP4 file, whose index says where every keyframe is");

  // Everything else comes from the index: every sample's decode time, size and keyframe flag.
  auto* mst = const_cast<AVStream*>(st);
  const int n = avformat_index_get_entries_count(mst);
  if (n < 2) return no("the source's index lists no samples");
  std::int64_t bytes = 0;
  std::int64_t step = -1;
  std::vector<std::int64_t> dts(static_cast<std::size_t>(n));
  std::vector<std::int64_t> sizes(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    const AVIndexEntry* e = avformat_index_get_entry(mst, i);
    if (!e) return no("the source's index cannot be read");
    dts[static_cast<std::size_t>(i)] = e->timestamp;
    sizes[static_cast<std::size_t>(i)] = e->size;
    bytes += e->size;
    if (i == 0 && !(e->flags & AVINDEX_KEYFRAME)) return no("the source's first picture is not a keyframe");
    if (e->flags & AVINDEX_KEYFRAME) d.key_dts.push_back(e->timestamp);
    if (i > 0) {
      std::int64_t gap = e->timestamp - dts[static_cast<std::size_t>(i) - 1];
      if (step < 0) step = gap;
      // Constant frame rate: every picture one frame period after the last (a tick of rounding).
      if (gap <= 0 || std::abs(gap - step) > 1) return no("the source's frame rate is not constant");
    }
  }
  const double tb = av_q2d(st->time_base);
  const double fps = 1.0 / (static_cast<double>(step) * tb);
  if (std::abs(fps - av_q2d(out_rate)) > 0.001 * fps)
    return no(fmt::format("the source's {:.3f} fps would become {:.3f} fps", fps, av_q2d(out_rate)));
  if (fps > 60.001) return no(fmt::format("the source runs at {:.3f} fps, over 60", fps));
  const std::int64_t end = dts.back() + step;
  const double duration = static_cast<double>(end - dts.front()) * tb;
  std::int64_t longest = 0;
  for (std::size_t i = 0; i < d.key_dts.size(); ++i)
    longest = std::max(longest, (i + 1 < d.key_dts.size() ? d.key_dts[i + 1] : end) - d.key_dts[i]);
  d.longest_key_gap_s = static_cast<double>(longest) * tb;
  const double segment_s = p.packaging.segment_s;
  const double half_frame = 0.5 / fps;
  if (d.longest_key_gap_s > segment_s + half_frame)
    return no(fmt::format("the source's keyframes are up to {:.2f} s apart, more than a {:g} s segment",
                          d.longest_key_gap_s, segment_s));
  const double avg_bps = duration > 0 ? static_cast<double>(bytes) * 8 / duration : 0;
  if (rp.r.maxrate_kbps > 0 && avg_bps > cap_margin * static_cast<double>(rp.r.maxrate_kbps) * 1000)
    return no(fmt::format("the source's {:.0f} kbit/s is over the {} rung's cap of {} kbit/s", avg_bps / 1000,
                          rp.r.name, rp.r.maxrate_kbps));

  auto ticks = [&](double s) { return static_cast<std::int64_t>(std::llround(s / tb)); };
  d.cut_dts = choose_cuts(d.key_dts, end, ticks(segment_s), ticks(first_segment_s > 0 ? first_segment_s : segment_s),
                          ticks(half_frame));
  // The copied rung's BANDWIDTH while it grows: its highest segment rate, read from the index.
  std::size_t c = 0;
  std::int64_t seg_start = dts.front(), seg_bytes = 0;
  auto close = [&](std::int64_t at) {
    double s = static_cast<double>(at - seg_start) * tb;
    if (s > 0) d.peak_bps = std::max(d.peak_bps, static_cast<std::int64_t>(static_cast<double>(seg_bytes) * 8 / s));
    seg_start = at;
    seg_bytes = 0;
  };
  for (std::size_t i = 0; i < dts.size(); ++i) {
    if (c < d.cut_dts.size() && dts[i] == d.cut_dts[c]) {
      close(dts[i]);
      ++c;
    }
    seg_bytes += sizes[i];
  }
  close(end);
  d.use = true;
  d.note = fmt::format(
      "copied: the source's H.264 {} {}x{} at {:.3f} fps is the {} rung as it is (keyframes at most {:.2f} s apart, "
      "{:.0f} kbit/s)",
      h264_profile_name(par->profile), par->width, par->height, fps, rp.r.name, d.longest_key_gap_s, avg_bps / 1000);
  return d;
}

void cut_schedule::add(double t, bool cut) {
  std::lock_guard lock(mutex_);
  if (keys_.empty() || t > keys_.back()) keys_.push_back(t);
  if (cut && (cuts_.empty() || t > cuts_.back())) cuts_.push_back(t);
}

bool cut_schedule::any_between(double after, double upto, bool cuts) const {
  std::lock_guard lock(mutex_);
  const auto& v = cuts ? cuts_ : keys_;
  auto it = std::upper_bound(v.begin(), v.end(), after);
  return it != v.end() && *it <= upto;
}

void note_keyframe(cut_schedule& schedule, const remux_decision& d, const AVPacket* pkt, std::int64_t origin,
                   AVRational tb) {
  if (!(pkt->flags & AV_PKT_FLAG_KEY) || pkt->pts == AV_NOPTS_VALUE) return;
  schedule.add(static_cast<double>(pkt->pts - origin) * av_q2d(tb),
               std::binary_search(d.cut_dts.begin(), d.cut_dts.end(), pkt->dts));
}

result<std::size_t> shared_source::read_at(std::int64_t offset, std::span<std::byte> buffer) {
  std::lock_guard lock(mutex_);
  return inner_.read_at(offset, buffer);
}

void shared_source::set_interrupt(io::interrupt_check check) {
  std::lock_guard lock(mutex_);
  if (check) {
    if (readers_++ == 0) inner_.set_interrupt(std::move(check));
  } else if (readers_ > 0 && --readers_ == 0) {
    inner_.set_interrupt({});
  }
}

remux_track::remux_track(io::byte_source& source, const transcode_options& opt, const input_guard& guard, int stream,
                         std::int64_t origin, const remux_decision& d, const rung_plan& rp, track_output out,
                         const AVStream* st)
    : source_(source), opt_(opt), stream_(stream), tb_(st->time_base), origin_(origin), decision_(d) {
  guard_.cancel = guard.cancel;
  guard_.deadline = guard.deadline;
  par_.reset(avcodec_alloc_context3(nullptr));
  if (!par_) throw std::bad_alloc();
  check_own(avcodec_parameters_to_context(par_.get(), st->codecpar), "cannot describe the copied video");
  par_->time_base = st->time_base;
  par_->framerate = st->avg_frame_rate;
  track_.name = rp.r.name;
  track_.video = true;
  track_.width = rp.g.width;
  track_.height = rp.g.height;
  track_.frame_rate = st->avg_frame_rate;
  out.cuts = &own_cuts_;
  writer_ = std::make_unique<cmaf_writer>(std::move(out), par_.get(), opt.plan.packaging.segment_s, track_);
  pkt_ = av::make_packet();
}

remux_track::~remux_track() { join(); }

void remux_track::start(run_state& run, completion& done) {
  thread_ = std::thread([this, &run, &done] {
    try {
      copy(run);
    } catch (const av::failure& e) {
      run.set_error(e.code(), e.message());
    } catch (const std::bad_alloc&) {
      run.set_error(errc::out_of_memory, "out of memory while copying the source's video");
    } catch (const std::exception& e) {
      run.set_error(errc::internal, e.what());
    }
    done.done();
  });
}

void remux_track::join() {
  if (thread_.joinable()) thread_.join();
}

void remux_track::copy(run_state& run) {
  opened_input in;
  in.open(source_, opt_.policy, guard_);
  AVFormatContext* ctx = in.get();
  if (stream_ >= static_cast<int>(ctx->nb_streams))
    av::fail(errc::input_undecodable, "the source's video stream is not there on a second reading");
  for (unsigned i = 0; i < ctx->nb_streams; ++i)
    if (static_cast<int>(i) != stream_) ctx->streams[i]->discard = AVDISCARD_ALL;
  auto pkt = av::make_packet();
  for (;;) {
    if (run.abort) return;
    guard_.check();
    int r = av_read_frame(ctx, pkt.get());
    // As the decode thread does: a damaged tail ends the input, everything before it is kept.
    if (r == AVERROR_EOF || r == AVERROR_INVALIDDATA) break;
    if (r < 0) in.fail_read(r, "cannot read the input");
    if (pkt->stream_index == stream_) write(pkt.get());
    av_packet_unref(pkt.get());
  }
  if (!run.abort) writer_->finish();
}

void remux_track::write(const AVPacket* in) {
  if (in->dts == AV_NOPTS_VALUE || in->pts == AV_NOPTS_VALUE || (in->flags & AV_PKT_FLAG_DISCARD) ||
      (last_dts_ != AV_NOPTS_VALUE && in->dts <= last_dts_) || in->pts < origin_)
    av::fail(errc::input_undecodable,
             "the source's video cannot be copied as it is (its timestamps do not follow its index); a job may "
             "re-encode it instead (video.remux = \"off\")");
  last_dts_ = in->dts;
  note_keyframe(own_cuts_, decision_, in, origin_, tb_);
  av::check(av_packet_ref(pkt_.get(), in), "cannot copy a packet");
  pkt_->pts -= origin_;
  pkt_->dts -= origin_;
  pkt_->stream_index = 0;
  pkt_->pos = -1;
  writer_->write(pkt_.get());
  av_packet_unref(pkt_.get());
  frames_.fetch_add(1, std::memory_order_relaxed);
  out_time_.store(static_cast<double>(in->pts - origin_) * av_q2d(tb_), std::memory_order_relaxed);
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::media
