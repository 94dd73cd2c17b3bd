#pragma once
// Internal: what the engine's threads share: the first failure (which stops them all), frame queues
// bounded in frames and bytes between the decoder and each encoder, and the count of threads still
// running that the watching thread waits on.
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "media/av.hpp"

namespace spool::inline SPOOL_ABI_NAMESPACE::media {

// Lowers the calling thread's CPU priority, and with `idle` moves it to SCHED_IDLE (Linux: nice
// values and policies are per thread; threads the encoder starts afterwards inherit both).
// Best effort: a refusal leaves the thread as it was.
inline void lower_priority(int nice_delta, bool idle) {
  auto tid = static_cast<id_t>(::syscall(SYS_gettid));
  if (nice_delta > 0) {
    errno = 0;
    int cur = ::getpriority(PRIO_PROCESS, tid);
    if (errno == 0) ::setpriority(PRIO_PROCESS, tid, std::min(19, cur + nice_delta));
  }
  if (idle) {
    sched_param none{};
    ::sched_setscheduler(static_cast<pid_t>(tid), SCHED_IDLE, &none);
  }
}

inline std::size_t frame_bytes(const AVFrame* f) {
  std::size_t n = 0;
  for (auto* b : f->buf)
    if (b) n += b->size;
  return n;
}

// Shared failure state: the first error wins and stops every thread.
class run_state {
 public:
  std::atomic<bool> abort{false};

  void set_error(const error_code& ec, std::string detail) {
    {
      std::lock_guard lock(mutex_);
      if (!ec_) {
        ec_ = ec;
        detail_ = std::move(detail);
      }
    }
    stop();
  }
  void stop() {
    abort = true;
    std::lock_guard lock(mutex_);
    for (auto* w : wakers_) w->notify_all();
  }
  void add_waker(std::condition_variable* cv) {
    std::lock_guard lock(mutex_);
    wakers_.push_back(cv);
  }
  bool failed(error_code& ec, std::string& detail) {
    std::lock_guard lock(mutex_);
    ec = ec_;
    detail = detail_;
    return static_cast<bool>(ec_);
  }
  std::mutex& mutex() { return mutex_; }

 private:
  std::mutex mutex_;
  error_code ec_;
  std::string detail_;
  std::vector<std::condition_variable*> wakers_;
};

// Bounded in frames and bytes: the decoder waits when an encoder falls behind, so memory does not
// grow with the input's length.
class frame_queue {
 public:
  frame_queue(run_state& run, std::size_t max_frames, std::size_t max_bytes)
      : run_(run), max_frames_(max_frames), max_bytes_(max_bytes) {
    run_.add_waker(&cv_);
  }
  bool push(av::frame_ptr f) {
    std::size_t n = frame_bytes(f.get());
    std::unique_lock lock(mutex_);
    // Timed waits: an abort raised between a check and the wait is still seen promptly.
    while (!(run_.abort || q_.empty() || (q_.size() < max_frames_ && bytes_ + n <= max_bytes_)))
      cv_.wait_for(lock, std::chrono::milliseconds(50));
    if (run_.abort) return false;
    bytes_ += n;
    q_.push_back(std::move(f));
    cv_.notify_all();
    return true;
  }
  /// False at the end of the stream or on abort.
  bool pop(av::frame_ptr& out) {
    std::unique_lock lock(mutex_);
    while (!(run_.abort || !q_.empty() || closed_)) cv_.wait_for(lock, std::chrono::milliseconds(50));
    if (run_.abort || q_.empty()) return false;
    out = std::move(q_.front());
    q_.pop_front();
    bytes_ -= frame_bytes(out.get());
    cv_.notify_all();
    return true;
  }
  void close() {
    std::lock_guard lock(mutex_);
    closed_ = true;
    cv_.notify_all();
  }

 private:
  run_state& run_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<av::frame_ptr> q_;
  std::size_t max_frames_, max_bytes_, bytes_ = 0;
  bool closed_ = false;
};

// Counts the media threads still running; the watching thread waits on it.
struct completion {
  std::mutex mutex;
  std::condition_variable cv;
  int running = 0;
  void done() {
    std::lock_guard lock(mutex);
    --running;
    cv.notify_all();
  }
};

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::media
