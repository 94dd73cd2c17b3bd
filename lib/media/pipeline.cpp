#include "media/pipeline.hpp"

#include <spool/package_layout.hpp>

#include <fmt/format.h>

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

#include "media/audio_track.hpp"
#include "media/chunk.hpp"
#include "media/growing.hpp"
#include "media/ladder.hpp"
#include "media/threads.hpp"
#include "media/thumbnails.hpp"
#include "media/video_rung.hpp"

extern "C" {
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
}

namespace fs = std::filesystem;

namespace spool::inline SPOOL_ABI_NAMESPACE::media {
namespace {

using clock = std::chrono::steady_clock;

// The longest side every encoder spool drives accepts (libx265's limit; H.264 level 6.2's widest).
constexpr int max_encoded_side = 8192;

// Where a track's files go: the package, and a local copy when a progressive MP4 is made from it.
track_output output_for(io::package_sink& sink, const std::string& name, const fs::path& workspace, bool copy) {
  track_output o;
  o.sink = &sink;
  o.dir = name;
  if (copy && !workspace.empty()) o.local_copy = workspace / name;
  return o;
}

}  // namespace

void run_pipeline(opened_input& in, const probe_result& probe, const transcode_options& opt, io::package_sink& sink,
                  const fs::path& workspace, input_guard& guard, pipeline_output& out, clock::time_point started) {
  AVFormatContext* ctx = in.get();
  const plan& p = opt.plan;
  int vi = p.video.rungs.empty() ? -1 : probe.video_index;
  int ai = p.audio.enabled ? probe.audio_index : -1;
  // A chunk encodes video only; the whole-input part everything but the rungs (its thumbnails need
  // the pictures decoded).
  const bool chunk_video = is_video_chunk(opt), whole = is_whole_input(opt);
  if (chunk_video) ai = -1;
  if (whole) vi = p.thumbnails.poster || p.thumbnails.storyboard ? probe.video_index : -1;
  if (probe.video_index < 0 && probe.audio_index < 0)
    av::fail(errc::input_no_streams, "the input has neither video nor audio");
  if (probe.video_index < 0 && !opt.policy.allow_audio_only)
    av::fail(errc::audio_only_refused, "the input has no video stream");
  if (vi < 0 && ai < 0)
    av::fail(errc::input_no_streams, "nothing in the input matches the plan (no video rungs or audio)");
  if (p.audio.enabled && ai < 0) {
    // An audio stream whose format probing could not read (its frames damaged beyond a parser's
    // reach) is audio the source has and the package would silently lack.
    for (unsigned i = 0; i < ctx->nb_streams; ++i) {
      const AVCodecParameters* par = ctx->streams[i]->codecpar;
      if (par->codec_type == AVMEDIA_TYPE_AUDIO && (par->sample_rate <= 0 || par->ch_layout.nb_channels <= 0))
        av::fail(errc::input_undecodable,
                 fmt::format("the input's audio stream ({}) cannot be read; a job may ask for video only "
                             "(audio.enabled = false)",
                             avcodec_get_name(par->codec_id)));
    }
  }

  for (int i : {vi, ai}) {
    if (i < 0 || decoder_allowed(ctx->streams[i]->codecpar->codec_id, opt.policy)) continue;
    bool video = i == vi;
    av::fail(errc::codec_not_allowed,
             fmt::format("the input's {} codec '{}' is not on the decoder allow-list{}", video ? "video" : "audio",
                         avcodec_get_name(ctx->streams[i]->codecpar->codec_id),
                         video ? "" : " (a job may ask for video only: audio.enabled = false)"));
  }
  for (unsigned i = 0; i < ctx->nb_streams; ++i)
    if (static_cast<int>(i) != vi && static_cast<int>(i) != ai) ctx->streams[i]->discard = AVDISCARD_ALL;

  // Time zero is the first picture (an AAC track's priming often starts a few ms earlier, and must
  // not push the picture onto a later frame slot); without video, the container's start.
  std::int64_t origin_us = ctx->start_time != AV_NOPTS_VALUE ? ctx->start_time : 0;
  // Every part of a chunked job keeps the lecture's time zero, whatever it decodes.
  const int origin_index = opt.chunk ? probe.video_index : vi;
  if (origin_index >= 0 && ctx->streams[origin_index]->start_time != AV_NOPTS_VALUE)
    origin_us =
        av_rescale_q(ctx->streams[origin_index]->start_time, ctx->streams[origin_index]->time_base, AV_TIME_BASE_Q);
  double duration_s = probe.duration_s;
  run_state run;
  completion done;
  video_source src;
  av::codec_ptr vdec;
  std::vector<std::unique_ptr<rung_worker>> workers;
  std::unique_ptr<audio_branch> audio;
  std::unique_ptr<thumbnailer> thumbs;
  std::unique_ptr<growing_package> growing;
  std::string publish_note;
  const bool grow = !opt.chunk && publishes_progressively(opt, sink, publish_note);
  out.publish_note = publish_note;

  if (vi >= 0) {
    AVStream* st = ctx->streams[vi];
    const AVCodec* codec = avcodec_find_decoder(st->codecpar->codec_id);
    if (!codec)
      av::fail(errc::codec_unsupported,
               std::string("no decoder for video codec ") + avcodec_get_name(st->codecpar->codec_id));
    if (!avcodec_find_encoder_by_name(p.video.codec.c_str()))
      av::fail(errc::encoder_unavailable, "encoder " + p.video.codec + " is not available in this FFmpeg");
    vdec.reset(avcodec_alloc_context3(codec));
    if (!vdec) throw std::bad_alloc();
    av::check(avcodec_parameters_to_context(vdec.get(), st->codecpar), "cannot set up the video decoder");
    vdec->pkt_timebase = st->time_base;
    vdec->thread_count = 1;
    vdec->max_pixels = opt.policy.max_pixels;
    const stream_info& si = probe.streams[static_cast<std::size_t>(vi)];
    src.time_base = st->time_base;
    src.origin = av_rescale_q(origin_us, AV_TIME_BASE_Q, st->time_base);
    src.rotation = si.rotation;
    src.interlaced = si.interlaced;
    src.out_rate = output_rate(source_rate(st), p.video.max_fps);
    src.duration_s = duration_s;
    src.container_sar = st->sample_aspect_ratio;
    if (si.display_width <= 0 || si.display_height <= 0)
      av::fail(errc::input_undecodable, "the video stream has no size");
    auto rungs = plan_rungs(p.video.rungs, si.display_width, si.display_height);
    if (whole) rungs.clear();
    // The progressive MP4's rung: the named one, or the first produced when a small source dropped it.
    std::string progressive;
    if (!p.packaging.progressive.empty() && !rungs.empty() && !opt.chunk) {
      progressive = rungs.front().r.name;
      for (const auto& rp : rungs)
        if (rp.r.name == p.packaging.progressive) progressive = rp.r.name;
    }
    std::int64_t total_px = 0;
    for (const auto& rp : rungs) {
      std::int64_t px = static_cast<std::int64_t>(rp.g.width) * rp.g.height;
      // Refused here, before an encoder is opened on a picture it cannot take (x264 refuses sides
      // over 16384 and leaks on the way; x265 takes 8192).
      if (std::max(rp.g.width, rp.g.height) > max_encoded_side)
        av::fail(errc::feature_unsupported,
                 fmt::format("rendition {} would be {}x{}: encoders take sides of at most {} pixels", rp.r.name,
                             rp.g.width, rp.g.height, max_encoded_side));
      if (px > opt.policy.max_pixels)
        av::fail(errc::too_many_pixels, fmt::format("rendition {} would be {}x{}, over the limit of {} pixels",
                                                    rp.r.name, rp.g.width, rp.g.height, opt.policy.max_pixels));
      total_px += px;
    }
    if (grow) {
      std::vector<std::string> names;
      names.reserve(rungs.size());
      for (const auto& rp : rungs) names.push_back(rp.r.name);
      growing = std::make_unique<growing_package>(sink, p, names, ai >= 0, started, opt.publish_interval);
    }
    for (std::size_t i = 0; i < rungs.size(); ++i) {
      const auto& rp = rungs[i];
      auto o = output_for(sink, rp.r.name, workspace, rp.r.name == progressive);
      if (growing) {
        o.segment_done = growing->hook(i);
        o.first_segment_s = p.packaging.gop_s;
      }
      if (chunk_video) {
        o.chunk = true;
        o.first_number = opt.chunk->first_segment;
      }
      workers.push_back(std::make_unique<rung_worker>(run, done, opt, src, rp.r, rp.g, std::move(o),
                                                      encoder_threads(opt, rp.g, total_px)));
    }
    if ((p.thumbnails.poster || p.thumbnails.storyboard) && !chunk_video)
      thumbs = std::make_unique<thumbnailer>(p.thumbnails, si.rotation, si.display_width, si.display_height, duration_s,
                                             opt.policy.max_pixels);
  }
  if (ai >= 0) {
    std::int64_t aorigin = av_rescale_q(origin_us, AV_TIME_BASE_Q, ctx->streams[ai]->time_base);
    if (grow && !growing)
      growing =
          std::make_unique<growing_package>(sink, p, std::vector<std::string>{}, true, started, opt.publish_interval);
    auto o = output_for(sink, std::string(package_layout::audio_dir), workspace, true);
    if (growing) {
      o.segment_done = growing->hook(workers.size());
      o.first_segment_s = p.packaging.gop_s;
    }
    audio = std::make_unique<audio_branch>(p.audio, ctx->streams[ai], aorigin, std::move(o), opt.policy.max_duration_s);
    audio->set_segment(p.packaging.segment_s);
  }

  // The decode thread: demux, decode video once and fan it out; audio is cheap and stays here.
  std::atomic<double> read_time{0};
  std::int64_t video_errors = 0, video_packets = 0;  // written by the decode thread, read after it ends
  run.add_waker(&done.cv);
  done.running = 1 + static_cast<int>(workers.size());
  auto decode_all = [&] {
    try {
      lower_priority(opt.encode_nice, opt.encode_idle);
      if (vdec) {
        int r = avcodec_open2(vdec.get(), vdec->codec, nullptr);
        if (r < 0) av::fail_av(r, "cannot open the video decoder", errc::codec_unsupported);
      }
      if (audio) audio->open();
      auto pkt = av::make_packet();
      auto frame = av::make_frame();
      std::int64_t last_pts = AV_NOPTS_VALUE;
      frame_bounds bounds;
      if (vdec) {
        AVStream* st = ctx->streams[vi];
        // One output frame period: the container's own rate is a claim like any other.
        bounds.frame_step = std::max<std::int64_t>(1, av_rescale_q(1, av_inv_q(src.out_rate), src.time_base));
        bounds.one_second = std::max<std::int64_t>(1, av_rescale_q(1, AVRational{1, 1}, src.time_base));
        bounds.limit = av_rescale_q(static_cast<std::int64_t>(std::min(opt.policy.max_duration_s, 1e9) * 1000),
                                    AVRational{1, 1000}, src.time_base);
        bounds.declared_end = declared_end(ctx, st, src.origin);
      }
      std::int64_t decoded = 0, errors = 0, packets = 0;
      bool chunk_read = false;  // a chunk has every frame it needs
      std::optional<chunk_seeker> seeker;
      if (chunk_video && opt.chunk->start_s > 0) seeker.emplace(ctx, vi, src.origin, *opt.chunk, src.out_rate);
      auto fan_out = [&](AVFrame* f) {
        if (seeker && f->best_effort_timestamp != AV_NOPTS_VALUE &&
            !seeker->accept(static_cast<double>(f->best_effort_timestamp - src.origin) * av::q2d(src.time_base)))
          return;
        // Timestamps made sane: missing ones continue from the last, none goes backwards, and none
        // (nor any frame's end) runs past the duration limit, whatever the container claims.
        std::int64_t ts = f->best_effort_timestamp;
        if (ts == AV_NOPTS_VALUE) ts = last_pts == AV_NOPTS_VALUE ? src.origin : last_pts + bounds.frame_step;
        if (last_pts != AV_NOPTS_VALUE && ts <= last_pts) ts = last_pts + 1;
        std::int64_t rel = 0;
        if (__builtin_sub_overflow(ts, src.origin, &rel) || rel > bounds.limit)
          av::fail(errc::too_long,
                   fmt::format("the video runs past the duration limit of {:.0f} s", opt.policy.max_duration_s));
        last_pts = ts;
        f->pts = rel;
        f->pkt_duration = bounds.bounded_duration(rel, f->pkt_duration > 0 ? f->pkt_duration : bounds.frame_step);
        if (rel + f->pkt_duration > bounds.limit)
          av::fail(errc::too_long,
                   fmt::format("the video runs past the duration limit of {:.0f} s", opt.policy.max_duration_s));
        double t = static_cast<double>(f->pts) * av::q2d(src.time_base);
        read_time.store(t, std::memory_order_relaxed);
        if (chunk_video && t >= chunk_read_end(*opt.chunk)) chunk_read = true;
        if (thumbs) thumbs->offer(f, t);
        for (auto& w : workers) {
          av::frame_ptr ref(av_frame_clone(f));
          if (!ref) throw std::bad_alloc();
          if (!w->queue().push(std::move(ref))) return;
        }
        ++decoded;
      };
      auto decode_video = [&](const AVPacket* pk) {
        if (pk) ++packets;
        int r = avcodec_send_packet(vdec.get(), pk);
        if (r < 0 && r != AVERROR(EAGAIN) && r != AVERROR_EOF) {
          // A damaged packet costs a frame, not the lecture (counted in the warnings); running out
          // of memory is different.
          if (r == AVERROR(ENOMEM)) av::check(r, "cannot decode video");
          ++errors;
        }
        for (;;) {
          r = avcodec_receive_frame(vdec.get(), frame.get());
          if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) break;
          if (r == AVERROR(ENOMEM)) av::check(r, "cannot decode video");
          if (r < 0) {
            ++errors;
            if (errors > 1000 && decoded == 0) av::fail(errc::input_undecodable, "no video frame could be decoded");
            continue;
          }
          fan_out(frame.get());
          av_frame_unref(frame.get());
          if (run.abort) return;
        }
      };
      for (;;) {
        if (run.abort) return;
        if (chunk_read) break;
        if (seeker && seeker->pending()) {
          seeker->reseek(vdec.get());
          last_pts = AV_NOPTS_VALUE;
        }
        guard.check();
        int r = av_read_frame(ctx, pkt.get());
        if (r == AVERROR_EOF) break;
        // Formats without a header (MPEG-TS, FLV) add streams while reading: the limit holds here too,
        // and a demuxer refused a stream over the ceiling fails as if out of memory.
        if (static_cast<int>(ctx->nb_streams) > opt.policy.max_streams)
          av::fail(errc::too_many_streams, fmt::format("the input has more than {} streams", opt.policy.max_streams));
        if (r < 0) {
          // A damaged tail ends the input; everything readable before it is kept.
          if (r == AVERROR_INVALIDDATA) break;
          in.fail_read(r, "cannot read the input");
        }
        if (vdec && pkt->stream_index == vi)
          decode_video(pkt.get());
        else if (audio && pkt->stream_index == ai)
          audio->decode(pkt.get());
        av_packet_unref(pkt.get());
      }
      if (vdec) {
        decode_video(nullptr);
        if (decoded == 0 && !run.abort) av::fail(errc::input_undecodable, "no video frame could be decoded");
        video_errors = errors;
        video_packets = packets;
      }
      for (auto& w : workers) w->queue().close();
      if (audio && !run.abort) audio->finish();
    } catch (const av::failure& e) {
      run.set_error(e.code(), e.message());
    } catch (const std::bad_alloc&) {
      run.set_error(errc::out_of_memory, "out of memory while decoding");
    } catch (const std::exception& e) {
      run.set_error(errc::internal, e.what());
    }
  };
  // A thread that cannot be started fails the run like any other error (the system is out of
  // threads or memory: a resource error), and every thread that did start is still joined.
  std::thread decoder;
  try {
    decoder = std::thread([&] {
      decode_all();
      // Whatever happened, the encoders are told the stream ended and the watcher that we did.
      for (auto& w : workers) w->queue().close();
      done.done();
    });
  } catch (const std::system_error& e) {
    av::fail(errc::out_of_memory, std::string("cannot start the decode thread: ") + e.what());
  }
  for (std::size_t i = 0; i < workers.size(); ++i) {
    try {
      workers[i]->start();
    } catch (const std::system_error& e) {
      run.set_error(errc::out_of_memory, std::string("cannot start an encode thread: ") + e.what());
      for (std::size_t k = i; k < workers.size(); ++k) done.done();  // never started, never to finish
      break;
    }
  }

  // This thread watches: cancellation, the deadline and progress reports.
  auto last_report = clock::time_point{};
  // A chunk's progress is through its own range of the input.
  const double progress_from = chunk_video ? opt.chunk->start_s : 0.0;
  const double progress_len = chunk_video ? std::min(opt.chunk->end_s, duration_s) - progress_from : duration_s;
  auto part_done = [&](double t) {
    return progress_len > 0 ? std::clamp((t - progress_from) / progress_len, 0.0, 1.0) : 0.0;
  };
  auto report = [&](bool final) {
    if (!opt.on_progress) return;
    progress pr;
    double elapsed = std::chrono::duration<double>(clock::now() - started).count();
    pr.elapsed_s = elapsed;
    double slowest = -1;
    auto add = [&](const std::string& name, double t, std::int64_t frames) {
      rendition_progress rp;
      rp.name = name;
      rp.out_time_s = t;
      rp.fraction = final ? 1.0 : part_done(t);
      rp.fps = elapsed > 0 ? static_cast<double>(frames) / elapsed : 0;
      rp.speed = elapsed > 0 ? std::max(0.0, t - progress_from) / elapsed : 0;
      if (slowest < 0 || t < slowest) slowest = t;
      pr.renditions.push_back(std::move(rp));
    };
    for (auto& w : workers) add(w->name(), w->out_time(), w->frames());
    if (audio) add("audio", audio->out_time(), 0);
    if (slowest < 0) slowest = read_time.load();
    pr.out_time_s = slowest;
    pr.fraction = final ? 1.0 : part_done(slowest);
    pr.speed = elapsed > 0 ? std::max(0.0, slowest - progress_from) / elapsed : 0;
    const double end = progress_from + progress_len;
    pr.eta_s = final ? 0 : pr.speed > 0 && progress_len > 0 ? std::max(0.0, (end - slowest) / pr.speed) : -1;
    if (growing) pr.playable_s = growing->playable_s();
    try {
      opt.on_progress(pr);
    } catch (...) {
      // A throwing callback must not take the transcode down with it.
    }
  };
  // Publishes what the encoders added (the lock released meanwhile); false when that failed the run.
  auto publish_growing = [&](std::unique_lock<std::mutex>& lock) {
    lock.unlock();
    bool ok = false;
    try {
      growing->poll();
      ok = true;
    } catch (const av::failure& e) {
      run.set_error(e.code(), e.message());
    } catch (const std::bad_alloc&) {
      run.set_error(errc::out_of_memory, "out of memory while publishing");
    } catch (const std::exception& e) {
      run.set_error(errc::internal, e.what());
    }
    lock.lock();
    return ok;
  };
  auto safe_report = [&](bool final) {
    try {
      report(final);
    } catch (...) {
      // Progress is best effort; an allocation failing here must not end the process while the
      // media threads run.
    }
  };
  {
    std::unique_lock lock(done.mutex);
    while (done.running > 0) {
      done.cv.wait_for(lock, std::chrono::milliseconds(20));
      if (run.abort) continue;  // threads are stopping; wait for them
      if (guard.cancel && guard.cancel->load()) {
        lock.unlock();
        run.set_error(errc::cancelled, "cancelled");
        lock.lock();
      } else if (clock::now() > guard.deadline) {
        lock.unlock();
        run.set_error(errc::deadline_exceeded, "the job's deadline passed");
        lock.lock();
      } else if (growing && !publish_growing(lock)) {
        continue;
      } else if (clock::now() - last_report >= opt.progress_interval) {
        lock.unlock();
        safe_report(false);
        lock.lock();
        last_report = clock::now();
      }
    }
  }
  decoder.join();
  for (auto& w : workers) w->join();
  error_code ec;
  std::string detail;
  if (run.failed(ec, detail)) av::fail(ec, detail);
  if (guard.cancel && guard.cancel->load()) av::fail(errc::cancelled, "cancelled");

  for (auto& w : workers) {
    if (w->track().segments.empty())
      av::fail(errc::input_undecodable, "rendition " + w->name() + " received no frames");
    out.video.push_back(std::move(w->track()));
  }
  if (video_errors > 0)
    out.warnings.push_back({"video_packets_undecodable",
                            fmt::format("{} of {} video packets could not be decoded; the frames before them are "
                                        "shown longer",
                                        video_errors, video_packets),
                            video_errors});
  if (audio) {
    // The source has audio and the job asked for it: it is in the package, or the job fails. A
    // lecture published without its sound is data lost without a word.
    const auto& a = audio->stats();
    if (a.packets == 0) {
      // A track with nothing in it (a recording made with the microphone off): no sound to lose.
      out.warnings.push_back({"audio_stream_empty", "the input's audio stream holds no audio", 1});
    } else if (a.decoded_frames == 0)
      av::fail(
          errc::input_undecodable,
          fmt::format("the audio stream ({}) cannot be decoded{}; a job may ask for video only (audio.enabled = false)",
                      avcodec_get_name(ctx->streams[ai]->codecpar->codec_id),
                      a.bad_packets > 0 ? fmt::format(": all {} packets were damaged", a.bad_packets) : ""));
    if (a.bad_packets > 0)
      out.warnings.push_back(
          {"audio_packets_concealed",
           fmt::format("{} damaged audio packets were concealed with silence where their timestamps place them",
                       a.bad_packets),
           a.bad_packets});
    if (a.tail_samples > 0)
      out.warnings.push_back(
          {"audio_tail_concealed",
           fmt::format("the last {:.3f} s of audio could not be decoded and were replaced with silence",
                       static_cast<double>(a.tail_samples) / p.audio.sample_rate),
           1});
    if (a.gaps_filled > 0)
      out.warnings.push_back({"audio_gaps_filled",
                              fmt::format("{} gaps in the audio ({:.3f} s in all) were filled with silence",
                                          a.gaps_filled, static_cast<double>(a.gap_samples) / p.audio.sample_rate),
                              a.gaps_filled});
    if (a.overlaps_dropped > 0)
      out.warnings.push_back({"audio_overlaps_dropped",
                              fmt::format("{} audio frames overlapping earlier audio were dropped", a.overlaps_dropped),
                              a.overlaps_dropped});
    if (!audio->track().segments.empty())
      out.audio = std::move(audio->track());
    else if (workers.empty())
      av::fail(errc::input_undecodable, "no audio could be decoded");
    else if (a.packets > 0)
      out.warnings.push_back(
          {"audio_outside_video", "the audio ends before the first picture: the package has no sound", 1});
    double video_end = 0;
    for (const auto& v : out.video) video_end = std::max(video_end, v.duration_s());
    if (out.audio && video_end - out.audio->duration_s() > 0.5)
      out.warnings.push_back(
          {"audio_ends_early",
           fmt::format("the audio ends {:.3f} s before the video", video_end - out.audio->duration_s()), 1});
  }
  // The package lasts as long as its picture; audio alone only without video.
  double d = 0;
  for (const auto& v : out.video) d = std::max(d, v.duration_s());
  if (out.video.empty() && out.audio) d = out.audio->duration_s();
  if (whole && out.video.empty()) d = std::max(d, read_time.load());
  out.duration_s = d;
  guard.check();
  if (thumbs) {
    out.files = thumbs->write(sink, d);
    out.warnings.insert(out.warnings.end(), thumbs->warnings().begin(), thumbs->warnings().end());
  }
  guard.check();
  if (growing) {
    out.publish = "progressive";
    out.first_playable_s = growing->first_playable_s();
  }
  safe_report(true);
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::media
