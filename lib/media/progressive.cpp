#include "media/progressive.hpp"

#include <fmt/format.h>

#include <cstdio>
#include <memory>
#include <vector>

namespace fs = std::filesystem;

namespace spool::media {
namespace {

// Reads init.mp4 and every segment of a track as one continuous fragmented MP4.
struct track_reader {
  std::vector<fs::path> files;
  std::size_t next = 0;
  std::FILE* cur = nullptr;
  AVFormatContext* ctx = nullptr;
  AVIOContext* pb = nullptr;

  ~track_reader() {
    if (ctx) avformat_close_input(&ctx);
    if (pb) {
      av_freep(&pb->buffer);
      avio_context_free(&pb);
    }
    if (cur) std::fclose(cur);
  }

  static int read(void* opaque, std::uint8_t* buf, int size) {
    auto* r = static_cast<track_reader*>(opaque);
    for (;;) {
      if (!r->cur) {
        if (r->next >= r->files.size()) return AVERROR_EOF;
        r->cur = std::fopen(r->files[r->next++].c_str(), "rb");
        if (!r->cur) return AVERROR(EIO);
      }
      std::size_t n = std::fread(buf, 1, static_cast<std::size_t>(size), r->cur);
      if (n > 0) return static_cast<int>(n);
      bool err = std::ferror(r->cur) != 0;
      std::fclose(r->cur);
      r->cur = nullptr;
      if (err) return AVERROR(EIO);
    }
  }

  void open(const fs::path& dir, const track_info& t) {
    files.push_back(dir / t.name / "init.mp4");
    for (std::size_t i = 0; i < t.segments.size(); ++i) files.push_back(dir / t.name / fmt::format("seg_{:05d}.m4s", i + 1));
    constexpr int size = 1 << 16;
    auto* buffer = static_cast<std::uint8_t*>(av_malloc(size));
    if (!buffer) throw std::bad_alloc();
    pb = avio_alloc_context(buffer, size, 0, this, &read, nullptr, nullptr);
    if (!pb) {
      av_free(buffer);
      throw std::bad_alloc();
    }
    ctx = avformat_alloc_context();
    if (!ctx) throw std::bad_alloc();
    ctx->pb = pb;
    AVDictionary* opts = nullptr;
    av_dict_set(&opts, "format_whitelist", "mov,mp4,m4a,3gp,3g2,mj2", 0);
    int r = avformat_open_input(&ctx, nullptr, av_find_input_format("mp4"), &opts);
    av_dict_free(&opts);
    av::check(r, "cannot read back a rendition", errc::io_error);
    av::check(avformat_find_stream_info(ctx, nullptr), "cannot read back a rendition", errc::io_error);
  }
};

}  // namespace

void write_progressive(const fs::path& dir, const track_info& video, const track_info* audio, const fs::path& out) {
  std::vector<std::unique_ptr<track_reader>> inputs;
  inputs.push_back(std::make_unique<track_reader>());
  inputs.back()->open(dir, video);
  if (audio) {
    inputs.push_back(std::make_unique<track_reader>());
    inputs.back()->open(dir, *audio);
  }
  AVFormatContext* oc = nullptr;
  av::check(avformat_alloc_output_context2(&oc, nullptr, "mp4", out.c_str()), "cannot create the MP4 muxer");
  std::unique_ptr<AVFormatContext, void (*)(AVFormatContext*)> guard(oc, [](AVFormatContext* c) {
    if (c->pb) avio_closep(&c->pb);
    avformat_free_context(c);
  });
  for (auto& in : inputs) {
    AVStream* st = avformat_new_stream(oc, nullptr);
    if (!st) throw std::bad_alloc();
    av::check(avcodec_parameters_copy(st->codecpar, in->ctx->streams[0]->codecpar), "cannot copy a track");
    st->codecpar->codec_tag = 0;
    st->time_base = in->ctx->streams[0]->time_base;
  }
  av::check(avio_open(&oc->pb, out.c_str(), AVIO_FLAG_WRITE), "cannot create " + out.string(), errc::io_error);
  AVDictionary* opts = nullptr;
  av_dict_set(&opts, "movflags", "faststart", 0);
  int r = avformat_write_header(oc, &opts);
  av_dict_free(&opts);
  av::check(r, "cannot write " + out.string(), errc::io_error);
  auto pkt = av::make_packet();
  // Interleave by always taking from the track that is furthest behind.
  std::vector<bool> done(inputs.size(), false);
  std::vector<av::packet_ptr> pending;
  for (std::size_t i = 0; i < inputs.size(); ++i) pending.push_back(av::make_packet());
  std::vector<bool> have(inputs.size(), false);
  for (;;) {
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      if (have[i] || done[i]) continue;
      int rr = av_read_frame(inputs[i]->ctx, pending[i].get());
      if (rr == AVERROR_EOF) done[i] = true;
      else {
        av::check(rr, "cannot read back a rendition", errc::io_error);
        have[i] = true;
      }
    }
    int pick = -1;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      if (!have[i]) continue;
      if (pick < 0 || av_compare_ts(pending[i]->dts, inputs[i]->ctx->streams[0]->time_base,
                                    pending[static_cast<std::size_t>(pick)]->dts,
                                    inputs[static_cast<std::size_t>(pick)]->ctx->streams[0]->time_base) < 0)
        pick = static_cast<int>(i);
    }
    if (pick < 0) break;
    auto& p = pending[static_cast<std::size_t>(pick)];
    p->stream_index = pick;
    av_packet_rescale_ts(p.get(), inputs[static_cast<std::size_t>(pick)]->ctx->streams[0]->time_base,
                         oc->streams[pick]->time_base);
    av::check(av_interleaved_write_frame(oc, p.get()), "cannot write " + out.string(), errc::io_error);
    have[static_cast<std::size_t>(pick)] = false;
  }
  av::check(av_write_trailer(oc), "cannot finish " + out.string(), errc::io_error);
  av::check(avio_closep(&oc->pb), "cannot close " + out.string(), errc::io_error);
}

}  // namespace spool::media
