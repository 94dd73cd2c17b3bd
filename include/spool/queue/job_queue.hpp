#pragma once
// basic_job_queue: the asynchronous face of a queue backend. An Asio I/O object whose operations
// take any completion token (callbacks, use_awaitable, use_future, deferred). The adapter's blocking
// calls run on threads this object owns, never on the host's io_context; completions run through
// each handler's associated executor.
#include <spool/job.hpp>
#include <spool/queue/adapter.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/json/serialize.hpp>

#include <atomic>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace spool::queue {

/// @par Thread Safety
/// Distinct objects: safe. Shared objects: every async_ operation may be started concurrently.
template <class Executor = boost::asio::any_io_executor>
class basic_job_queue {
 public:
  using executor_type = Executor;

  /// `io_threads` bounds how many adapter calls run at once (a long-polling receive holds one).
  basic_job_queue(const executor_type& ex, std::shared_ptr<queue_adapter> adapter, std::size_t io_threads = 2)
      : ex_(ex), adapter_(std::move(adapter)), pool_(std::make_unique<boost::asio::thread_pool>(io_threads)) {}

  basic_job_queue(const basic_job_queue&) = delete;
  basic_job_queue& operator=(const basic_job_queue&) = delete;

  /// Ends waiting receives (they complete with operation_aborted) and waits for running calls.
  ~basic_job_queue() {
    {
      std::lock_guard lock(core_->mutex);
      core_->closing = true;
      for (auto& f : core_->running) *f = true;
    }
    pool_->join();
  }

  executor_type get_executor() const noexcept { return ex_; }
  queue_adapter& adapter() const noexcept { return *adapter_; }

  /// Queues a job. The job's id is the queue's message id; a job whose idempotency_key was seen
  /// before is not queued again and the first job's id is returned.
  ///
  /// @par Completion Signature
  /// `void(spool::error_code, std::string job_id)`; errc::invalid_spec for a job whose plan is bad.
  template <class Token = boost::asio::default_completion_token_t<executor_type>>
  auto async_submit(job_spec job, Token&& token = boost::asio::default_completion_token_t<executor_type>()) {
    return start<void(error_code, std::string)>(std::forward<Token>(token), [a = adapter_, job = std::move(job)](
                                                                                 const std::atomic<bool>&) {
      if (auto e = validate(job.plan)) return std::make_tuple(e.code, std::string());
      job_spec body = job;
      body.job_id.clear();  // the queue names the job
      outgoing_message m{boost::json::serialize(to_json(body)), job.idempotency_key, milliseconds(0)};
      send_result r;
      auto ec = a->send(m, r);
      return std::make_tuple(ec, std::move(r.message_id));
    });
  }

  /// Queues several jobs with one send_batch: on mem:// and file:// all of them or none, and on
  /// file:// one durable commit for the lot. Every job's plan is checked first; one bad job fails
  /// the whole batch before anything is queued. Idempotency keys work as in async_submit, also
  /// between jobs of the same batch.
  ///
  /// @par Completion Signature
  /// `void(spool::error_code, std::vector<std::string> job_ids)`, one id per job in order;
  /// errc::invalid_spec if any job's plan is bad. After another error, `job_ids` names the jobs that
  /// were queued all the same (a backend without atomic_send_batch may have queued a first part).
  template <class Token = boost::asio::default_completion_token_t<executor_type>>
  auto async_submit_batch(std::vector<job_spec> jobs,
                          Token&& token = boost::asio::default_completion_token_t<executor_type>()) {
    return start<void(error_code, std::vector<std::string>)>(
        std::forward<Token>(token), [a = adapter_, jobs = std::move(jobs)](const std::atomic<bool>&) {
          std::vector<outgoing_message> msgs;
          msgs.reserve(jobs.size());
          for (const auto& job : jobs) {
            if (auto e = validate(job.plan)) return std::make_tuple(e.code, std::vector<std::string>());
            job_spec body = job;
            body.job_id.clear();  // the queue names the job
            msgs.push_back({boost::json::serialize(to_json(body)), job.idempotency_key, milliseconds(0)});
          }
          std::vector<send_result> results;
          auto ec = a->send_batch(msgs, results);
          std::vector<std::string> ids;
          ids.reserve(results.size());
          for (auto& r : results) ids.push_back(std::move(r.message_id));
          return std::make_tuple(ec, std::move(ids));
        });
  }

  /// Leases up to options.max_messages jobs, waiting up to options.wait for the first.
  ///
  /// @par Completion Signature
  /// `void(spool::error_code, std::vector<spool::queue::delivery>)`
  ///
  /// @par Per-Operation Cancellation
  /// terminal, partial and total: a waiting receive stops within a few tens of milliseconds and
  /// completes with boost::asio::error::operation_aborted; nothing is leased.
  template <class Token = boost::asio::default_completion_token_t<executor_type>>
  auto async_receive(receive_options options,
                     Token&& token = boost::asio::default_completion_token_t<executor_type>()) {
    return start<void(error_code, std::vector<delivery>)>(
        std::forward<Token>(token), [a = adapter_, options](const std::atomic<bool>& cancel) {
          std::vector<delivery> out;
          auto ec = a->receive(options, out, &cancel);
          if (!ec && out.empty() && cancel.load()) ec = boost::asio::error::operation_aborted;
          return std::make_tuple(ec, std::move(out));
        });
  }

  /// @par Completion Signature
  /// `void(spool::error_code)`; errc::lease_lost when the delivery is no longer current.
  template <class Token = boost::asio::default_completion_token_t<executor_type>>
  auto async_ack(delivery d, Token&& token = boost::asio::default_completion_token_t<executor_type>()) {
    return start<void(error_code)>(std::forward<Token>(token), [a = adapter_, d = std::move(d)](
                                                                   const std::atomic<bool>&) {
      return std::make_tuple(a->ack(d));
    });
  }

  /// @par Completion Signature
  /// `void(spool::error_code)`
  template <class Token = boost::asio::default_completion_token_t<executor_type>>
  auto async_nack(delivery d, milliseconds delay,
                  Token&& token = boost::asio::default_completion_token_t<executor_type>()) {
    return start<void(error_code)>(std::forward<Token>(token), [a = adapter_, d = std::move(d), delay](
                                                                   const std::atomic<bool>&) {
      return std::make_tuple(a->nack(d, delay));
    });
  }

  /// @par Completion Signature
  /// `void(spool::error_code, spool::queue::clock::time_point expires_at)`
  template <class Token = boost::asio::default_completion_token_t<executor_type>>
  auto async_extend(delivery d, milliseconds lease,
                    Token&& token = boost::asio::default_completion_token_t<executor_type>()) {
    return start<void(error_code, clock::time_point)>(
        std::forward<Token>(token), [a = adapter_, d = std::move(d), lease](const std::atomic<bool>&) {
          clock::time_point t{};
          auto ec = a->extend(d, lease, t);
          return std::make_tuple(ec, t);
        });
  }

 private:
  struct core {
    std::mutex mutex;
    std::set<std::shared_ptr<std::atomic<bool>>> running;
    bool closing = false;
  };

  // Runs `work` on the pool and completes the handler with the tuple it returns.
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
          boost::asio::post(*pool_, [c, cancel, w = std::move(w), handler = std::move(handler),
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
};

using job_queue = basic_job_queue<>;

}  // namespace spool::queue
