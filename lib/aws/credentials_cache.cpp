// Temporary credentials kept until shortly before they expire.
#include <fmt/chrono.h>
#include <fmt/format.h>

#include <mutex>
#include <optional>

#include "aws/credentials_providers.hpp"

namespace spool::inline SPOOL_ABI_NAMESPACE::aws {
namespace {

class caching_provider final : public credentials_provider {
 public:
  caching_provider(std::shared_ptr<credentials_provider> inner, provider_options options)
      : inner_(std::move(inner)), options_(std::move(options)) {}

  result<credentials> get() override {
    auto now = now_of(options_);
    {
      std::lock_guard lock(state_);
      if (fresh(now)) return *cached_;
    }
    std::unique_lock refreshing(refresh_, std::try_to_lock);
    if (!refreshing.owns_lock()) {
      {  // another caller is refreshing: the old credentials do meanwhile, if they still work
        std::lock_guard lock(state_);
        if (usable(now)) return *cached_;
      }
      refreshing.lock();
      now = now_of(options_);
    }
    {
      std::lock_guard lock(state_);
      if (fresh(now)) return *cached_;  // refreshed while this caller waited
      if (usable(now) && next_attempt_ && now < *next_attempt_) return *cached_;
    }
    auto got = inner_->get();
    now = now_of(options_);
    std::lock_guard lock(state_);
    if (got) {
      cached_ = *got;
      next_attempt_.reset();
      return got;
    }
    if (usable(now)) {  // keep using them; try again a little later
      next_attempt_ = now + options_.retry_after_failure;
      return *cached_;
    }
    if (cached_ && got.error().code != errc::no_credentials) {
      return error(
          got.error().code,
          fmt::format("the credentials from {} expired at {:%Y-%m-%dT%H:%M:%SZ} and could not be refreshed: {}",
                      cached_->source, fmt::gmtime(wall_clock::to_time_t(*cached_->expiry)), got.error().what()));
    }
    return got;
  }

  std::string name() const override { return inner_->name(); }

 private:
  // Nothing to refresh yet.
  bool fresh(wall_clock::time_point now) const {
    return cached_ && (!cached_->expiry || now < *cached_->expiry - options_.refresh_window);
  }
  // Still accepted by AWS.
  bool usable(wall_clock::time_point now) const { return cached_ && (!cached_->expiry || now < *cached_->expiry); }

  std::shared_ptr<credentials_provider> inner_;
  provider_options options_;
  std::mutex refresh_;  // held while one caller asks inner_
  std::mutex state_;    // guards the members below; never held while asking inner_
  std::optional<credentials> cached_;
  std::optional<wall_clock::time_point> next_attempt_;
};

}  // namespace

std::shared_ptr<credentials_provider> cached_credentials(std::shared_ptr<credentials_provider> inner,
                                                         provider_options options) {
  return std::make_shared<caching_provider>(std::move(inner), std::move(options));
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::aws
