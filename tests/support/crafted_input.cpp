#include "crafted_input.hpp"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
}

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <fstream>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace spool::inline SPOOL_ABI_NAMESPACE::test {
namespace {

void check(int ret, const std::string& what) {
  if (ret >= 0) return;
  char buf[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(ret, buf, sizeof buf);
  throw std::runtime_error("remux: " + what + ": " + buf);
}

struct input_closer {
  void operator()(AVFormatContext* c) const { avformat_close_input(&c); }
};
struct output_closer {
  void operator()(AVFormatContext* c) const {
    if (c->pb && !(c->oformat->flags & AVFMT_NOFILE)) avio_closep(&c->pb);
    avformat_free_context(c);
  }
};

std::string read_all(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + p.string());
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_all(const std::filesystem::path& p, const std::string& data) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  if (!out) throw std::runtime_error("cannot write " + p.string());
}

std::uint32_t rd32(const std::string& b, std::size_t o) {
  auto u = [&](std::size_t i) { return static_cast<std::uint32_t>(static_cast<unsigned char>(b[o + i])); };
  return (u(0) << 24) | (u(1) << 16) | (u(2) << 8) | u(3);
}
void wr32(std::string& b, std::size_t o, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) b[o + static_cast<std::size_t>(i)] = static_cast<char>((v >> (24 - 8 * i)) & 0xff);
}
void wr64(std::string& b, std::size_t o, std::uint64_t v) {
  wr32(b, o, static_cast<std::uint32_t>(v >> 32));
  wr32(b, o + 4, static_cast<std::uint32_t>(v));
}

// Walks the box tree below [off, end), calling f(type, offset, size) for every box, descending into
// the containers that hold the duration boxes.
template <class F>
void walk_boxes(std::string& b, std::size_t off, std::size_t end, F&& f) {
  while (off + 8 <= end) {
    std::uint64_t size = rd32(b, off);
    std::size_t header = 8;
    if (size == 1) {
      size = (static_cast<std::uint64_t>(rd32(b, off + 8)) << 32) | rd32(b, off + 12);
      header = 16;
    } else if (size == 0) {
      size = end - off;
    }
    if (size < header || off + size > end) return;
    std::string type = b.substr(off + 4, 4);
    f(type, off + header, static_cast<std::size_t>(size) - header);
    if (type == "moov" || type == "trak" || type == "mdia") walk_boxes(b, off + header, off + size, f);
    off += size;
  }
}

}  // namespace

void remux(const std::filesystem::path& input, const std::filesystem::path& output, const remux_spec& spec) {
  auto open_input = [&] {
    AVFormatContext* raw_in = nullptr;
    check(avformat_open_input(&raw_in, input.c_str(), nullptr, nullptr), "open " + input.string());
    std::unique_ptr<AVFormatContext, input_closer> ctx(raw_in);
    check(avformat_find_stream_info(ctx.get(), nullptr), "stream info");
    return ctx;
  };
  // First pass: packet counts, so an edit can find "the last packet".
  std::vector<std::int64_t> counts;
  {
    auto first = open_input();
    counts.assign(first->nb_streams, 0);
    AVPacket* p = av_packet_alloc();
    while (av_read_frame(first.get(), p) >= 0) {
      ++counts[static_cast<std::size_t>(p->stream_index)];
      av_packet_unref(p);
    }
    av_packet_free(&p);
  }
  auto in = open_input();

  AVFormatContext* raw_out = nullptr;
  check(avformat_alloc_output_context2(&raw_out, nullptr, spec.container.c_str(), output.c_str()), "output context");
  std::unique_ptr<AVFormatContext, output_closer> out(raw_out);
  out->max_streams = 1 << 20;  // crafted inputs may carry thousands

  std::vector<int> map(in->nb_streams, -1);
  std::vector<std::vector<int>> copies(in->nb_streams);
  int first_audio = -1;
  for (unsigned i = 0; i < in->nb_streams; ++i) {
    const AVStream* ist = in->streams[i];
    bool video = ist->codecpar->codec_type == AVMEDIA_TYPE_VIDEO;
    bool audio = ist->codecpar->codec_type == AVMEDIA_TYPE_AUDIO;
    if ((video && !spec.keep_video) || (audio && !spec.keep_audio) || (!video && !audio)) continue;
    AVStream* ost = avformat_new_stream(out.get(), nullptr);
    if (!ost) throw std::runtime_error("remux: new stream");
    check(avcodec_parameters_copy(ost->codecpar, ist->codecpar), "copy parameters");
    ost->codecpar->codec_tag = 0;
    ost->time_base = ist->time_base;
    if (video && spec.rate_num > 0) ost->avg_frame_rate = AVRational{spec.rate_num, spec.rate_den};
    if (video && spec.sar_num > 0) {
      ost->sample_aspect_ratio = AVRational{spec.sar_num, spec.sar_den};
      ost->codecpar->sample_aspect_ratio = ost->sample_aspect_ratio;
    }
    map[i] = ost->index;
    if (audio && first_audio < 0) {
      first_audio = static_cast<int>(i);
      for (int k = 0; k < spec.extra_audio; ++k) {
        AVStream* cst = avformat_new_stream(out.get(), nullptr);
        if (!cst) throw std::runtime_error("remux: new stream");
        check(avcodec_parameters_copy(cst->codecpar, ist->codecpar), "copy parameters");
        cst->codecpar->codec_tag = 0;
        cst->time_base = ist->time_base;
        copies[i].push_back(cst->index);
      }
    }
  }

  if (!(out->oformat->flags & AVFMT_NOFILE)) check(avio_open(&out->pb, output.c_str(), AVIO_FLAG_WRITE), "open output");
  AVDictionary* opts = nullptr;
  for (const auto& [k, v] : spec.muxer_options) av_dict_set(&opts, k.c_str(), v.c_str(), 0);
  int r = avformat_write_header(out.get(), &opts);
  av_dict_free(&opts);
  check(r, "write header");

  std::mt19937 noise(7);
  std::vector<std::int64_t> seen(in->nb_streams, 0), next_ts(in->nb_streams, 0);
  AVPacket* pkt = av_packet_alloc();
  while (av_read_frame(in.get(), pkt) >= 0) {
    auto si = static_cast<std::size_t>(pkt->stream_index);
    if (map[si] < 0) {
      av_packet_unref(pkt);
      continue;
    }
    const AVStream* ist = in->streams[si];
    packet_edit e;
    e.stream = map[si];
    e.video = ist->codecpar->codec_type == AVMEDIA_TYPE_VIDEO;
    e.index = seen[si]++;
    e.count = counts[si];
    // A raw elementary stream has no timestamps at all: frames follow each other by their durations
    // (the generated streams have no B-frames).
    if (pkt->dts == AV_NOPTS_VALUE) pkt->dts = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : next_ts[si];
    if (pkt->pts == AV_NOPTS_VALUE) pkt->pts = pkt->dts;
    next_ts[si] = pkt->dts + std::max<std::int64_t>(pkt->duration, 1);
    e.pts = pkt->pts;
    e.dts = pkt->dts;
    e.duration = pkt->duration;
    e.tb_num = ist->time_base.num;
    e.tb_den = ist->time_base.den;
    if (spec.edit) spec.edit(e);
    if (e.drop) {
      av_packet_unref(pkt);
      continue;
    }
    pkt->pts = e.pts;
    pkt->dts = e.dts;
    pkt->duration = e.duration;
    if (e.truncate_to >= 0 && e.truncate_to < pkt->size) av_shrink_packet(pkt, e.truncate_to);
    if (e.damage) {
      check(av_packet_make_writable(pkt), "writable packet");
      for (int i = 1; i < pkt->size; ++i) pkt->data[i] = static_cast<std::uint8_t>(noise());
    }
    std::vector<int> targets{e.stream};
    targets.insert(targets.end(), copies[si].begin(), copies[si].end());
    for (int t : targets) {
      AVPacket* c = av_packet_clone(pkt);
      if (!c) throw std::runtime_error("remux: clone");
      c->stream_index = t;
      av_packet_rescale_ts(c, ist->time_base, out->streams[t]->time_base);
      c->pos = -1;
      r = av_interleaved_write_frame(out.get(), c);
      av_packet_free(&c);
      check(r, "write packet");
    }
    av_packet_unref(pkt);
  }
  av_packet_free(&pkt);
  check(av_write_trailer(out.get()), "write trailer");
}

namespace {

// An EBML variable-length integer at `o`: its length in bytes, and its value with (`keep_marker`, for
// element IDs) or without the length marker. Length 0 means malformed.
std::size_t read_vint(const std::string& b, std::size_t o, bool keep_marker, std::uint64_t& v) {
  if (o >= b.size()) return 0;
  auto first = static_cast<unsigned char>(b[o]);
  std::size_t len = 1;
  while (len <= 8 && !(first & (0x80u >> (len - 1)))) ++len;
  if (len > 8 || o + len > b.size()) return 0;
  v = keep_marker ? first : (first & (0xffu >> len));
  for (std::size_t i = 1; i < len; ++i) v = (v << 8) | static_cast<unsigned char>(b[o + i]);
  return len;
}

}  // namespace

void patch_matroska_duration(const std::filesystem::path& file, double seconds) {
  std::string b = read_all(file);
  // Segment (18538067) > Info (1549A966) > TimestampScale (2AD7B1, default 1 ms), Duration (4489, a
  // float in TimestampScale units).
  double scale_ns = 1e6;
  std::size_t duration_at = 0, duration_size = 0;
  std::function<void(std::size_t, std::size_t)> walk = [&](std::size_t o, std::size_t end) {
    while (o < end) {
      std::uint64_t id = 0, size = 0;
      std::size_t il = read_vint(b, o, true, id);
      std::size_t sl = il ? read_vint(b, o + il, false, size) : 0;
      if (!il || !sl) return;
      std::size_t body = o + il + sl;
      bool unknown = size == (std::uint64_t{1} << (7 * sl)) - 1;
      std::size_t stop = unknown ? end : std::min<std::size_t>(end, body + static_cast<std::size_t>(size));
      if (id == 0x18538067 || id == 0x1549A966) {
        walk(body, stop);
        if (id == 0x1549A966) return;
      } else if (id == 0x2AD7B1) {
        std::uint64_t v = 0;
        for (std::size_t i = body; i < stop; ++i) v = (v << 8) | static_cast<unsigned char>(b[i]);
        if (v > 0) scale_ns = static_cast<double>(v);
      } else if (id == 0x4489) {
        duration_at = body;
        duration_size = stop - body;
      }
      if (unknown) return;
      o = stop;
    }
  };
  walk(0, b.size());
  if (duration_size != 4 && duration_size != 8) throw std::runtime_error("no Matroska Duration in " + file.string());
  double units = seconds * 1e9 / scale_ns;
  if (duration_size == 8) {
    std::uint64_t bits = 0;
    std::memcpy(&bits, &units, sizeof bits);
    wr64(b, duration_at, bits);
  } else {
    auto f = static_cast<float>(units);
    std::uint32_t bits = 0;
    std::memcpy(&bits, &f, sizeof bits);
    wr32(b, duration_at, bits);
  }
  write_all(file, b);
}

void patch_mp4_duration(const std::filesystem::path& file, double seconds) {
  std::string b = read_all(file);
  std::uint32_t movie_scale = 1000;
  int patched = 0;
  walk_boxes(b, 0, b.size(), [&](const std::string& type, std::size_t body, std::size_t) {
    bool v1 = b[body] == 1;
    if (type == "mvhd" || type == "mdhd") {
      // version/flags, creation, modification, timescale, duration
      std::size_t scale_at = body + (v1 ? 20 : 12);
      std::uint32_t scale = rd32(b, scale_at);
      if (type == "mvhd") movie_scale = scale;
      auto d = static_cast<std::uint64_t>(seconds * scale);
      if (v1)
        wr64(b, scale_at + 4, d);
      else
        wr32(b, scale_at + 4, static_cast<std::uint32_t>(d));
      ++patched;
    } else if (type == "tkhd") {
      // version/flags, creation, modification, track id, reserved, duration (movie timescale)
      std::size_t at = body + (v1 ? 28 : 20);
      auto d = static_cast<std::uint64_t>(seconds * movie_scale);
      if (v1)
        wr64(b, at, d);
      else
        wr32(b, at, static_cast<std::uint32_t>(d));
      ++patched;
    }
  });
  if (patched == 0) throw std::runtime_error("no mvhd/tkhd/mdhd in " + file.string());
  write_all(file, b);
}

double max_packet_end_s(const std::filesystem::path& file, bool video) {
  AVFormatContext* raw = nullptr;
  check(avformat_open_input(&raw, file.c_str(), nullptr, nullptr), "open " + file.string());
  std::unique_ptr<AVFormatContext, input_closer> in(raw);
  check(avformat_find_stream_info(in.get(), nullptr), "stream info");
  int want = av_find_best_stream(in.get(), video ? AVMEDIA_TYPE_VIDEO : AVMEDIA_TYPE_AUDIO, -1, -1, nullptr, 0);
  if (want < 0) throw std::runtime_error("no such stream in " + file.string());
  AVRational tb = in->streams[want]->time_base;
  double end = 0;
  AVPacket* p = av_packet_alloc();
  while (av_read_frame(in.get(), p) >= 0) {
    if (p->stream_index == want) {
      std::int64_t t = p->pts != AV_NOPTS_VALUE ? p->pts : p->dts;
      if (t != AV_NOPTS_VALUE)
        end = std::max(end, static_cast<double>(t + std::max<std::int64_t>(p->duration, 0)) * av_q2d(tb));
    }
    av_packet_unref(p);
  }
  av_packet_free(&p);
  return end;
}

void concatenate(const std::filesystem::path& a, const std::filesystem::path& b, const std::filesystem::path& out) {
  write_all(out, read_all(a) + read_all(b));
}

long child_peak_rss_kb(const std::function<int()>& work, int& exit_code) {
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    int rc = 1;
    try {
      rc = work();
    } catch (...) {
      rc = 99;
    }
    ::_exit(rc);
  }
  int status = 0;
  struct rusage usage {};
  if (::wait4(pid, &status, 0, &usage) != pid) throw std::runtime_error("wait4 failed");
  exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return usage.ru_maxrss;
}

limited_child run_with_file_size_limit(std::uintmax_t file_size_limit,
                                       const std::function<int(std::string& message)>& work,
                                       std::chrono::seconds watchdog) {
  int pipefd[2];
  if (::pipe(pipefd) != 0) throw std::runtime_error("pipe failed");
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::close(pipefd[0]);
    ::signal(SIGXFSZ, SIG_IGN);
    rlimit lim{};
    lim.rlim_cur = lim.rlim_max = file_size_limit;
    if (::setrlimit(RLIMIT_FSIZE, &lim) != 0) ::_exit(child_threw);
    int code = child_threw;
    try {
      std::string message;
      code = work(message);
      ssize_t ignored = ::write(pipefd[1], message.data(), message.size());
      (void)ignored;
    } catch (...) {
      code = child_threw;
    }
    ::close(pipefd[1]);
    ::_exit(code);
  }
  ::close(pipefd[1]);
  limited_child child;
  int status = 0;
  const auto give_up = std::chrono::steady_clock::now() + watchdog;
  for (;;) {
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r < 0) throw std::runtime_error("waitpid failed");
    if (r == pid) break;
    if (std::chrono::steady_clock::now() > give_up) {
      child.hung = true;
      ::kill(pid, SIGKILL);
      if (::waitpid(pid, &status, 0) != pid) throw std::runtime_error("waitpid failed");
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  char buf[512];
  for (ssize_t n; (n = ::read(pipefd[0], buf, sizeof buf)) > 0;) child.said.append(buf, static_cast<std::size_t>(n));
  ::close(pipefd[0]);
  child.exited = WIFEXITED(status);
  if (child.exited) child.exit_code = WEXITSTATUS(status);
  return child;
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::test
