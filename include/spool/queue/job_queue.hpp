#pragma once
// basic_job_queue: the asynchronous face of a queue backend, and the only one a host needs. An Asio
// I/O object whose operations take any completion token (callbacks, use_awaitable, use_future,
// deferred, as_tuple). The backend's blocking calls run on threads this object owns (or on an
// executor the host supplies), never on the host's io_context; completions run through each
// handler's associated executor.
//
// Every operation completes with `void(spool::error_code, R)`, where R is a small struct named for
// what happened (submitted, received, extended, done, counted, listed, redriven) whose `message`
// says, on failure, what went wrong in words: the backend's own reason, unchanged. A cancelled
// operation completes with spool::errc::cancelled, which compares equal to
// spool::condition::cancelled (as boost::asio::error::operation_aborted also does).
#include <spool/job.hpp>
#include <spool/queue/adapter.hpp>
#include <spool/queue/submit.hpp>
#include <spool/version.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace spool::inline SPOOL_ABI_NAMESPACE::queue {

/// How async_receive completed: the deliveries (none after a cancellation or a failure).
struct SPOOL_API received {
  std::vector<delivery> deliveries;
  std::string message;  ///< on failure, what went wrong
};

/// How async_extend completed.
struct SPOOL_API extended {
  clock::time_point expires_at{};  ///< the lease's new expiry (wall clock)
  std::string message;             ///< on failure, what went wrong
};

/// How an operation without a value completed (ack, nack, release, dead_letter).
struct SPOOL_API done {
  std::string message;  ///< on failure, what went wrong
};

/// How async_stats completed.
struct SPOOL_API counted {
  queue_stats stats;
  std::string message;  ///< on failure, what went wrong
};

/// How async_list_dead completed: one page of the dead-letter store.
struct SPOOL_API listed {
  dead_letter_page page;  ///< page.next is `after` for the following page; empty when none follows
  std::string message;    ///< on failure, what went wrong
};

/// How async_redrive completed.
struct SPOOL_API redriven {
  std::size_t moved = 0;  ///< dead messages made visible again
  std::string message;    ///< on failure, what went wrong
};

/// @par Thread Safety
/// Distinct objects: safe. Shared objects: every async_ operation may be started concurrently.
template <class Executor = boost::asio::any_io_executor>
class SPOOL_API basic_job_queue {
 public:
  using executor_type = Executor;

  /// The backend's calls run on a pool owned by this object: `io_threads` bounds how many run at
  /// once (a long-polling receive holds one).
  basic_job_queue(const executor_type& ex, std::shared_ptr<queue_adapter> adapter, std::size_t io_threads = 2)
      : ex_(ex),
        adapter_(std::move(adapter)),
        pool_(std::make_unique<boost::asio::thread_pool>(io_threads)),
        blocking_ex_(pool_->get_executor()) {}

  /// The backend's calls run on `blocking_executor`, supplied by the host. Each call occupies one of
  /// its threads until it returns (a receive up to its wait), so it must not be the executor of a
  /// latency-sensitive io_context.
  basic_job_queue(const executor_type& ex, std::shared_ptr<queue_adapter> adapter,
                  boost::asio::any_io_executor blocking_executor)
      : ex_(ex), adapter_(std::move(adapter)), blocking_ex_(std::move(blocking_executor)) {}

  basic_job_queue(const basic_job_queue&) = delete;
  basic_job_queue& operator=(const basic_job_queue&) = delete;

  /// Ends waiting receives (they complete with errc::cancelled) and, when the pool is this object's
  /// own, waits for the calls in progress. Operations already started still complete.
  ~basic_job_queue() {
    {
      std::lock_guard lock(core_->mutex);
      core_->closing = true;
      for (auto& f : core_->running) *f = true;
    }
    if (pool_) pool_->join();
  }

  executor_type get_executor() const noexcept { return ex_; }

  /// What the backend can do (no call to the backend is made).
  capabilities caps() const noexcept { return adapter_->caps(); }

  /// Queues a job (spool::queue::submit): checked as a worker will read it, then sent with its
  /// idempotency_key as the dedup key. The job's id is the queue's message id; a key seen before
  /// queues nothing and gives the first job's id with `duplicate` set.
  ///
  /// @par Completion Signature
  /// `void(spool::error_code, spool::queue::submitted)`; errc::invalid_spec (with the reason in the
  /// message) for a job a worker would refuse, and nothing is queued.
  ///
  /// @par Per-Operation Cancellation
  /// Not cancellable.
  ///
  /// The handler is never invoked from within this function.
  template <BOOST_ASIO_COMPLETION_TOKEN_FOR(void(error_code, submitted))
                Token = boost::asio::default_completion_token_t<executor_type>>
  auto async_submit(job_spec job, Token&& token = boost::asio::default_completion_token_t<executor_type>()) {
    return start<void(error_code, submitted)>(std::forward<Token>(token),
                                              [a = adapter_, job = std::move(job)](const std::atomic<bool>&) {
                                                auto r = submit(*a, job);
                                                if (!r) return failed<submitted>(r.error());
                                                return std::make_tuple(error_code(), std::move(*r));
                                              });
  }

  /// Queues several jobs (spool::queue::submit_batch): every job is checked first, and one bad job
  /// fails the whole batch before anything is queued. Then one send_batch where the backend has it
  /// (on mem:// and file:// all of the jobs or none, and on file:// one durable commit for the lot),
  /// else one send per job, not atomic. Idempotency keys work as in async_submit, also between jobs
  /// of the same batch.
  ///
  /// @par Completion Signature
  /// `void(spool::error_code, std::vector<spool::queue::submitted>)`: one entry per job, in order.
  /// The code is the first failing job's; a job that was not queued has an empty job_id and its
  /// entry's message says why. Jobs with an id were queued even when the code is set (a backend
  /// without an atomic batch may have queued a first part).
  ///
  /// @par Per-Operation Cancellation
  /// Not cancellable.
  ///
  /// The handler is never invoked from within this function.
  template <BOOST_ASIO_COMPLETION_TOKEN_FOR(void(error_code, std::vector<submitted>))
                Token = boost::asio::default_completion_token_t<executor_type>>
  auto async_submit_batch(std::vector<job_spec> jobs,
                          Token&& token = boost::asio::default_completion_token_t<executor_type>()) {
    return start<void(error_code, std::vector<submitted>)>(
        std::forward<Token>(token), [a = adapter_, jobs = std::move(jobs)](const std::atomic<bool>&) {
          error_code first;
          std::vector<submitted> out;
          out.reserve(jobs.size());
          for (auto& r : submit_batch(*a, jobs)) {
            if (r) {
              out.push_back(std::move(*r));
              continue;
            }
            if (!first) first = r.error().code;
            out.push_back({{}, false, r.error().what()});
          }
          return std::make_tuple(first, std::move(out));
        });
  }

  /// Leases up to options.max_messages jobs, waiting up to options.wait for the first.
  ///
  /// @par Completion Signature
  /// `void(spool::error_code, spool::queue::received)`
  ///
  /// @par Per-Operation Cancellation
  /// Terminal, partial and total: a waiting receive stops within a few tens of milliseconds and
  /// completes with errc::cancelled; nothing is leased. Destroying this object cancels a waiting
  /// receive the same way.
  ///
  /// The handler is never invoked from within this function.
  template <BOOST_ASIO_COMPLETION_TOKEN_FOR(void(error_code, received))
                Token = boost::asio::default_completion_token_t<executor_type>>
  auto async_receive(receive_options options,
                     Token&& token = boost::asio::default_completion_token_t<executor_type>()) {
    return start<void(error_code, received)>(
        std::forward<Token>(token), [a = adapter_, options](const std::atomic<bool>& cancel) {
          auto cancelled = [] { return failed<received>(error{errc::cancelled, "the receive was cancelled"}); };
          if (cancel.load()) return cancelled();  // asked before it started: nothing is leased
          auto r = a->receive(options, &cancel);
          if (!r) return failed<received>(r.error());
          if (r->empty() && cancel.load()) return cancelled();
          return std::make_tuple(error_code(), received{std::move(*r), {}});
        });
  }

  /// Removes the job from the queue.
  ///
  /// @par Completion Signature
  /// `void(spool::error_code, spool::queue::done)`; errc::lease_lost when the delivery is no longer
  /// current.
  ///
  /// @par Per-Operation Cancellation
  /// Not cancellable.
  ///
  /// The handler is never invoked from within this function.
  template <BOOST_ASIO_COMPLETION_TOKEN_FOR(void(error_code, done))
                Token = boost::asio::default_completion_token_t<executor_type>>
  auto async_ack(delivery d, Token&& token = boost::asio::default_completion_token_t<executor_type>()) {
    return start<void(error_code, done)>(
        std::forward<Token>(token),
        [a = adapter_, d = std::move(d)](const std::atomic<bool>&) { return finished(a->ack(d)); });
  }

  /// Ends the lease; the job is visible again after `delay`, and the delivery counts as an attempt.
  ///
  /// @par Completion Signature
  /// `void(spool::error_code, spool::queue::done)`; errc::lease_lost when the delivery is no longer
  /// current, errc::invalid_argument for a delay beyond caps().max_delay.
  ///
  /// @par Per-Operation Cancellation
  /// Not cancellable.
  ///
  /// The handler is never invoked from within this function.
  template <BOOST_ASIO_COMPLETION_TOKEN_FOR(void(error_code, done))
                Token = boost::asio::default_completion_token_t<executor_type>>
  auto async_nack(delivery d, milliseconds delay,
                  Token&& token = boost::asio::default_completion_token_t<executor_type>()) {
    return start<void(error_code, done)>(
        std::forward<Token>(token),
        [a = adapter_, d = std::move(d), delay](const std::atomic<bool>&) { return finished(a->nack(d, delay)); });
  }

  /// Gives a delivery back, visible again at once, for work a shutdown stopped: not counted where
  /// caps().uncounted_release says so, else as a nack with no delay.
  ///
  /// @par Completion Signature
  /// `void(spool::error_code, spool::queue::done)`; errc::lease_lost when the delivery is no longer
  /// current.
  ///
  /// @par Per-Operation Cancellation
  /// Not cancellable.
  ///
  /// The handler is never invoked from within this function.
  template <BOOST_ASIO_COMPLETION_TOKEN_FOR(void(error_code, done))
                Token = boost::asio::default_completion_token_t<executor_type>>
  auto async_release(delivery d, Token&& token = boost::asio::default_completion_token_t<executor_type>()) {
    return start<void(error_code, done)>(
        std::forward<Token>(token),
        [a = adapter_, d = std::move(d)](const std::atomic<bool>&) { return finished(a->release(d)); });
  }

  /// Moves the lease's expiry to now + lease (a heartbeat).
  ///
  /// @par Completion Signature
  /// `void(spool::error_code, spool::queue::extended)`; errc::lease_lost when the delivery is no
  /// longer current, errc::invalid_argument for a lease beyond caps().max_lease.
  ///
  /// @par Per-Operation Cancellation
  /// Not cancellable.
  ///
  /// The handler is never invoked from within this function.
  template <BOOST_ASIO_COMPLETION_TOKEN_FOR(void(error_code, extended))
                Token = boost::asio::default_completion_token_t<executor_type>>
  auto async_extend(delivery d, milliseconds lease,
                    Token&& token = boost::asio::default_completion_token_t<executor_type>()) {
    return start<void(error_code, extended)>(std::forward<Token>(token),
                                             [a = adapter_, d = std::move(d), lease](const std::atomic<bool>&) {
                                               auto r = a->extend(d, lease);
                                               if (!r) return failed<extended>(r.error());
                                               return std::make_tuple(error_code(), extended{*r, {}});
                                             });
  }

  /// Moves the delivered job to the backend's dead-letter store, with the reason and the last
  /// error ({"code","category","message"}, or empty).
  ///
  /// @par Completion Signature
  /// `void(spool::error_code, spool::queue::done)`; errc::lease_lost when the delivery is no longer
  /// current, errc::feature_unsupported when the backend has no dead-letter store.
  ///
  /// @par Per-Operation Cancellation
  /// Not cancellable.
  ///
  /// The handler is never invoked from within this function.
  template <BOOST_ASIO_COMPLETION_TOKEN_FOR(void(error_code, done))
                Token = boost::asio::default_completion_token_t<executor_type>>
  auto async_dead_letter(delivery d, std::string reason, std::string last_error_json,
                         Token&& token = boost::asio::default_completion_token_t<executor_type>()) {
    return start<void(error_code, done)>(std::forward<Token>(token),
                                         [a = adapter_, d = std::move(d), reason = std::move(reason),
                                          last_error_json = std::move(last_error_json)](const std::atomic<bool>&) {
                                           auto* store = a->dead_letters();
                                           if (!store) return finished(no_store(*a));
                                           return finished(store->dead_letter(d, reason, last_error_json));
                                         });
  }

  /// Reads one page of the dead-letter store: up to `limit` records after the position `after`
  /// (empty: from the first), in the order they were dead-lettered.
  ///
  /// @par Completion Signature
  /// `void(spool::error_code, spool::queue::listed)`; errc::feature_unsupported when the backend has
  /// no dead-letter store, errc::invalid_argument for a malformed `after` or a zero limit.
  ///
  /// @par Per-Operation Cancellation
  /// Not cancellable.
  ///
  /// The handler is never invoked from within this function.
  template <BOOST_ASIO_COMPLETION_TOKEN_FOR(void(error_code, listed))
                Token = boost::asio::default_completion_token_t<executor_type>>
  auto async_list_dead(std::string after, std::size_t limit,
                       Token&& token = boost::asio::default_completion_token_t<executor_type>()) {
    return start<void(error_code, listed)>(std::forward<Token>(token),
                                           [a = adapter_, after = std::move(after), limit](const std::atomic<bool>&) {
                                             auto* store = a->dead_letters();
                                             if (!store) return failed<listed>(no_store(*a));
                                             auto r = store->list_dead(after, limit);
                                             if (!r) return failed<listed>(r.error());
                                             return std::make_tuple(error_code(), listed{std::move(*r), {}});
                                           });
  }

  /// Makes dead jobs visible again with a fresh attempt count: the one with `message_id`, or all of
  /// them when it is empty. An unknown id moves none and is not an error.
  ///
  /// @par Completion Signature
  /// `void(spool::error_code, spool::queue::redriven)`; errc::feature_unsupported when the backend
  /// has no dead-letter store.
  ///
  /// @par Per-Operation Cancellation
  /// Not cancellable.
  ///
  /// The handler is never invoked from within this function.
  template <BOOST_ASIO_COMPLETION_TOKEN_FOR(void(error_code, redriven))
                Token = boost::asio::default_completion_token_t<executor_type>>
  auto async_redrive(std::string message_id, Token&& token = boost::asio::default_completion_token_t<executor_type>()) {
    return start<void(error_code, redriven)>(std::forward<Token>(token),
                                             [a = adapter_, id = std::move(message_id)](const std::atomic<bool>&) {
                                               auto* store = a->dead_letters();
                                               if (!store) return failed<redriven>(no_store(*a));
                                               auto r = store->redrive(id);
                                               if (!r) return failed<redriven>(r.error());
                                               return std::make_tuple(error_code(), redriven{*r, {}});
                                             });
  }

  /// Counts the queue's jobs: visible, in flight, delayed, dead, and the age of the oldest.
  ///
  /// @par Completion Signature
  /// `void(spool::error_code, spool::queue::counted)`; errc::feature_unsupported when the backend
  /// cannot count (caps().stats is false).
  ///
  /// @par Per-Operation Cancellation
  /// Not cancellable.
  ///
  /// The handler is never invoked from within this function.
  template <BOOST_ASIO_COMPLETION_TOKEN_FOR(void(error_code, counted))
                Token = boost::asio::default_completion_token_t<executor_type>>
  auto async_stats(Token&& token = boost::asio::default_completion_token_t<executor_type>()) {
    return start<void(error_code, counted)>(std::forward<Token>(token), [a = adapter_](const std::atomic<bool>&) {
      auto r = a->stats();
      if (!r) return failed<counted>(r.error());
      return std::make_tuple(error_code(), counted{*r, {}});
    });
  }

 private:
  struct core {
    std::mutex mutex;
    std::set<std::shared_ptr<std::atomic<bool>>> running;
    bool closing = false;
  };

  template <class R>
  static std::tuple<error_code, R> failed(const error& e) {
    R r{};
    r.message = e.what();
    return {e.code, std::move(r)};
  }
  static std::tuple<error_code, done> finished(const error& e) { return {e.code, done{e ? e.what() : std::string()}}; }
  static error no_store(const queue_adapter& a) {
    return {errc::feature_unsupported, "the " + std::string(a.type_name()) + " queue backend has no dead-letter store"};
  }

  // Runs `work` on the blocking executor and completes the handler with the tuple it returns.
  template <class Signature, class Token, class Work>
  auto start(Token&& token, Work work) {
    return boost::asio::async_initiate<Token, Signature>(
        [this](auto handler, Work w) {
          auto cancel = std::make_shared<std::atomic<bool>>(false);
          auto slot = boost::asio::get_associated_cancellation_slot(handler);
          if (slot.is_connected())
            slot.assign([cancel](boost::asio::cancellation_type t) {
              if (t != boost::asio::cancellation_type::none) *cancel = true;
            });
          auto work_guard = boost::asio::make_work_guard(boost::asio::get_associated_executor(handler, ex_));
          auto c = core_;
          {
            std::lock_guard lock(c->mutex);
            if (c->closing) *cancel = true;
            c->running.insert(cancel);
          }
          boost::asio::post(blocking_ex_, [c, cancel, w = std::move(w), handler = std::move(handler),
                                           work_guard = std::move(work_guard)]() mutable {
            auto result = w(*cancel);
            {
              std::lock_guard lock(c->mutex);
              c->running.erase(cancel);
            }
            auto ex = work_guard.get_executor();
            boost::asio::dispatch(ex, [handler = std::move(handler), result = std::move(result)]() mutable {
              boost::asio::get_associated_cancellation_slot(handler).clear();
              std::apply(std::move(handler), std::move(result));
            });
            work_guard.reset();
          });
        },
        token, std::move(work));
  }

  executor_type ex_;
  std::shared_ptr<queue_adapter> adapter_;
  std::shared_ptr<core> core_ = std::make_shared<core>();
  std::unique_ptr<boost::asio::thread_pool> pool_;
  boost::asio::any_io_executor blocking_ex_;
};

using job_queue = basic_job_queue<>;

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::queue
