#pragma once
// The asynchronous transcoder: an Asio I/O object whose async_transcode takes any completion token
// (callbacks, use_awaitable, use_future, deferred, ...). The media work runs on threads spool owns
// (or the host supplies), never on the threads running the host's io_context.
#include <spool/transcode.hpp>
#include <spool/version.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

#include <cstddef>
#include <filesystem>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>

namespace spool::inline SPOOL_ABI_NAMESPACE {

namespace detail {
// Shared between the initiating function, the cancellation slot and the media thread.
struct SPOOL_API transcode_op_state {
  media::cancel_flag cancel{false};
};
// Tracks running operations so the transcoder's destructor can cancel them.
struct SPOOL_API transcoder_core {
  std::mutex mutex;
  std::set<std::shared_ptr<transcode_op_state>> running;
  bool shutting_down = false;
};
}  // namespace detail

/// Transcodes inputs into adaptive-bitrate packages, asynchronously.
///
/// @par Thread Safety
/// Distinct objects: safe. Shared objects: async_transcode may be called concurrently.
template <class Executor = boost::asio::any_io_executor>
class SPOOL_API basic_transcoder {
 public:
  using executor_type = Executor;

  /// Media work runs on a pool owned by this object, `concurrency` transcodes at a time (each
  /// transcode runs its own decode and encode threads besides).
  explicit basic_transcoder(const executor_type& ex, std::size_t concurrency = 1)
      : ex_(ex), pool_(std::make_unique<boost::asio::thread_pool>(concurrency)), media_ex_(pool_->get_executor()) {}

  /// Media work is started from `media_executor`, supplied by the host (it must not be the
  /// executor of a latency-sensitive io_context: each transcode occupies one of its threads).
  basic_transcoder(const executor_type& ex, boost::asio::any_io_executor media_executor)
      : ex_(ex), media_ex_(std::move(media_executor)) {}

  basic_transcoder(const basic_transcoder&) = delete;
  basic_transcoder& operator=(const basic_transcoder&) = delete;

  /// Cancels every running transcode; their handlers complete with errc::cancelled. With the
  /// object's own pool it waits for them to stop; with a host-supplied executor it does not (the
  /// operations own what they use, and complete through their handlers' executors).
  ~basic_transcoder() {
    {
      std::lock_guard lock(core_->mutex);
      core_->shutting_down = true;
      for (auto& s : core_->running) s->cancel = true;
    }
    if (pool_) pool_->join();
  }

  executor_type get_executor() const noexcept { return ex_; }

  /// Starts transcoding `input` into a package published at `output` (see spool::transcode).
  ///
  /// @par Completion Signature
  /// `void(spool::error_code, spool::media::transcode_result)`; on failure the result's
  /// error_detail says why (as_tuple keeps it with exception-style tokens, which throw only the code).
  ///
  /// @par Per-Operation Cancellation
  /// terminal, partial and total: the transcode stops within about one frame, no output is
  /// published and every temporary file is removed; the handler then receives errc::cancelled.
  ///
  /// The handler is never invoked from within this function; it runs through its associated
  /// executor (by default this object's executor).
  template <BOOST_ASIO_COMPLETION_TOKEN_FOR(void(error_code, media::transcode_result))
                Token = boost::asio::default_completion_token_t<executor_type>>
  auto async_transcode(std::string input, std::string output, media::transcode_options options,
                       Token&& token = boost::asio::default_completion_token_t<executor_type>()) {
    return boost::asio::async_initiate<Token, void(error_code, media::transcode_result)>(
        initiate{this}, token, std::move(input), std::move(output), std::move(options));
  }

 private:
  struct initiate {
    basic_transcoder* self;

    template <class Handler>
    void operator()(Handler&& handler, std::string input, std::string output, media::transcode_options options) const {
      auto state = std::make_shared<detail::transcode_op_state>();
      auto slot = boost::asio::get_associated_cancellation_slot(handler);
      if (slot.is_connected())
        slot.assign([state](boost::asio::cancellation_type t) {
          if (t != boost::asio::cancellation_type::none) state->cancel = true;
        });
      auto work = boost::asio::make_work_guard(boost::asio::get_associated_executor(handler, self->ex_));
      auto core = self->core_;
      {
        std::lock_guard lock(core->mutex);
        if (core->shutting_down) state->cancel = true;
        core->running.insert(state);
      }
      boost::asio::post(self->media_ex_, [state, core, input = std::move(input), output = std::move(output),
                                          options = std::move(options), work = std::move(work),
                                          handler = std::forward<Handler>(handler)]() mutable {
        media::transcode_result result;
        error_code ec = spool::transcode(input, output, options, result, &state->cancel);
        {
          std::lock_guard lock(core->mutex);
          core->running.erase(state);
        }
        auto ex = work.get_executor();
        boost::asio::dispatch(ex, [ec, result = std::move(result), handler = std::move(handler)]() mutable {
          // The slot must be cleared on the handler's side before it runs.
          boost::asio::get_associated_cancellation_slot(handler).clear();
          std::move(handler)(ec, std::move(result));
        });
        work.reset();
      });
    }
  };

  executor_type ex_;
  std::shared_ptr<detail::transcoder_core> core_ = std::make_shared<detail::transcoder_core>();
  std::unique_ptr<boost::asio::thread_pool> pool_;
  boost::asio::any_io_executor media_ex_;
};

using transcoder = basic_transcoder<>;

}  // namespace spool::inline SPOOL_ABI_NAMESPACE
