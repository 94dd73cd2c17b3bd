// The cache in front of temporary credentials: refreshed before expiry, one refresh at a time, old
// credentials used while they work, a clear error once they do not.
#include <catch2/catch.hpp>

#include <atomic>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "aws/credentials_providers.hpp"
#include "catch_result.hpp"

using namespace spool;
using namespace std::chrono_literals;

namespace {

constexpr const char* secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
constexpr const char* token = "FwoGZXIvYXdzEXAMPLESESSIONTOKEN";

// A clock the test moves by hand.
struct manual_clock {
  std::atomic<long long> offset_s{0};
  aws::wall_clock::time_point start = aws::wall_clock::now();
  aws::wall_clock::time_point now() const { return start + std::chrono::seconds(offset_s.load()); }
};

// A source that counts its calls (and how many run at once) and answers what the test set.
class counting_source final : public aws::credentials_provider {
 public:
  std::function<result<aws::credentials>()> answer;
  std::chrono::milliseconds delay{0};
  std::atomic<int> calls{0}, running{0}, most_at_once{0};

  result<aws::credentials> get() override {
    ++calls;
    int now = ++running;
    int seen = most_at_once.load();
    while (now > seen && !most_at_once.compare_exchange_weak(seen, now)) {
    }
    if (delay.count() > 0) std::this_thread::sleep_for(delay);
    auto r = answer();
    --running;
    return r;
  }
  std::string name() const override { return "counting"; }
};

aws::credentials expiring_at(aws::wall_clock::time_point t, std::string id = "ASIAFIRST") {
  return {std::move(id), secret, token, t, "counting"};
}

aws::provider_options options_with(manual_clock& clock) {
  aws::provider_options o;
  o.refresh_window = 300s;
  o.retry_after_failure = 10s;
  o.now = [&clock] { return clock.now(); };
  return o;
}

}  // namespace

TEST_CASE("cache: long-term keys are fetched once", "[aws][credentials][cache]") {
  manual_clock clock;
  auto source = std::make_shared<counting_source>();
  source->answer = [] { return aws::credentials{"AKIDLONG", secret, "", std::nullopt, "counting"}; };
  auto cached = aws::cached_credentials(source, options_with(clock));
  for (int i = 0; i < 5; ++i) {
    clock.offset_s += 86400;
    REQUIRE(cached->get());
  }
  CHECK(source->calls == 1);
}

TEST_CASE("cache: fetched again once inside the refresh window, not before", "[aws][credentials][cache]") {
  manual_clock clock;
  auto source = std::make_shared<counting_source>();
  int generation = 0;
  source->answer = [&] { return expiring_at(clock.now() + 1h, "ASIA" + std::to_string(++generation)); };
  auto cached = aws::cached_credentials(source, options_with(clock));
  CHECK(cached->get()->access_key_id == "ASIA1");
  clock.offset_s = 54 * 60;  // 6 minutes left: still outside the 5-minute window
  CHECK(cached->get()->access_key_id == "ASIA1");
  CHECK(source->calls == 1);
  clock.offset_s = 56 * 60;  // 4 minutes left
  CHECK(cached->get()->access_key_id == "ASIA2");
  CHECK(source->calls == 2);

  // Credentials that arrive already inside the window are asked for again at the next call.
  source->answer = [&] { return expiring_at(clock.now() + 2min, "ASIA" + std::to_string(++generation)); };
  clock.offset_s += 3600;
  CHECK(cached->get()->access_key_id == "ASIA3");
  CHECK(cached->get()->access_key_id == "ASIA4");
  CHECK(source->calls == 4);
}

TEST_CASE("cache: a failed refresh keeps the old credentials while they work", "[aws][credentials][cache]") {
  manual_clock clock;
  auto source = std::make_shared<counting_source>();
  source->answer = [&] { return expiring_at(clock.now() + 1h); };
  auto cached = aws::cached_credentials(source, options_with(clock));
  REQUIRE(cached->get());
  source->answer = [] {
    return result<aws::credentials>(error(errc::network, "STS at http://sts: connection refused"));
  };

  clock.offset_s = 57 * 60;  // in the window, still valid
  auto old = cached->get();
  REQUIRE(old);
  CHECK(old->access_key_id == "ASIAFIRST");
  CHECK(source->calls == 2);
  clock.offset_s += 5;  // within retry_after_failure: not asked again
  REQUIRE(cached->get());
  CHECK(source->calls == 2);
  clock.offset_s += 10;
  REQUIRE(cached->get());
  CHECK(source->calls == 3);

  clock.offset_s = 61 * 60;  // expired, and the source still fails
  auto gone = cached->get();
  REQUIRE_FALSE(gone);
  CHECK(gone.error().code == errc::network);
  CHECK_THAT(gone.error().what(),
             Catch::Contains("counting") && Catch::Contains("expired at") && Catch::Contains("connection refused"));
  CHECK_THAT(gone.error().what(), !Catch::Contains(secret) && !Catch::Contains(token));

  // Recovery.
  source->answer = [&] { return expiring_at(clock.now() + 1h, "ASIASECOND"); };
  CHECK(cached->get()->access_key_id == "ASIASECOND");
}

TEST_CASE("cache: errors are not kept", "[aws][credentials][cache]") {
  manual_clock clock;
  auto source = std::make_shared<counting_source>();
  source->answer = [] { return result<aws::credentials>(error(errc::no_credentials, "none yet")); };
  auto cached = aws::cached_credentials(source, options_with(clock));
  CHECK(cached->get().error().code == errc::no_credentials);
  source->answer = [&] { return expiring_at(clock.now() + 1h); };
  CHECK(cached->get());
  CHECK(source->calls == 2);
}

TEST_CASE("cache: one refresh at a time; the others use the valid old credentials", "[aws][credentials][cache]") {
  manual_clock clock;
  auto source = std::make_shared<counting_source>();
  std::atomic<int> generation{0};
  source->answer = [&] { return expiring_at(clock.now() + 1h, "ASIA" + std::to_string(++generation)); };
  source->delay = 50ms;
  auto cached = aws::cached_credentials(source, options_with(clock));

  auto hammer = [&] {
    std::vector<std::thread> threads;
    std::atomic<int> failures{0};
    for (int t = 0; t < 8; ++t)
      threads.emplace_back([&] {
        for (int i = 0; i < 5; ++i)
          if (!cached->get()) ++failures;
      });
    for (auto& t : threads) t.join();
    return failures.load();
  };
  CHECK(hammer() == 0);  // cold: every caller waits for the one fetch
  CHECK(source->calls == 1);
  CHECK(source->most_at_once == 1);

  clock.offset_s = 57 * 60;  // due for refresh, still valid
  CHECK(hammer() == 0);
  CHECK(source->calls == 2);
  CHECK(source->most_at_once == 1);
}

TEST_CASE("cache: while one caller refreshes, another gets the old credentials at once", "[aws][credentials][cache]") {
  manual_clock clock;
  auto source = std::make_shared<counting_source>();
  std::mutex gate;  // held by the test: the refresh cannot finish until it lets go
  std::atomic<bool> refresh_started{false};
  source->answer = [&] { return expiring_at(clock.now() + 1h, "ASIAOLD"); };
  auto cached = aws::cached_credentials(source, options_with(clock));
  REQUIRE(cached->get());

  source->answer = [&] {
    refresh_started = true;
    std::lock_guard wait(gate);
    return expiring_at(clock.now() + 1h, "ASIANEW");
  };
  clock.offset_s = 57 * 60;
  std::unique_lock hold(gate);
  std::string refreshed;
  std::thread refresher([&] { refreshed = cached->get()->access_key_id; });
  for (int i = 0; i < 2000 && !refresh_started; ++i) std::this_thread::sleep_for(1ms);
  REQUIRE(refresh_started);
  // Must not wait for the refresh; if it did, the gate is opened after 5 s and the check fails.
  auto pending = std::async(std::launch::async, [&] { return cached->get(); });
  bool prompt = pending.wait_for(5s) == std::future_status::ready;
  hold.unlock();
  refresher.join();
  auto meanwhile = pending.get();
  CHECK(prompt);
  REQUIRE(meanwhile);
  CHECK(meanwhile->access_key_id == "ASIAOLD");
  CHECK(refreshed == "ASIANEW");
  CHECK(cached->get()->access_key_id == "ASIANEW");
  CHECK(source->calls == 2);
}
