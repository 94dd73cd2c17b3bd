// The SQS queue adapter: a lease is the visibility timeout, extend and nack change it, ack deletes.
#include "aws/sqs_queue.hpp"

#include <algorithm>
#include <charconv>
#include <random>

#include "aws/sigv4.hpp"
#include "aws/sqs_dead_letters.hpp"

namespace spool::inline SPOOL_ABI_NAMESPACE::aws::sqs {
namespace {

using steady = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr milliseconds max_lease{max_visibility_s * 1000};
constexpr milliseconds max_delay{max_delay_s * 1000};
// SQS remembers a MessageDeduplicationId for 5 minutes from the first send; spool trusts its own
// memory of a key a little less long, so it never reports a duplicate SQS has already forgotten.
constexpr auto dedup_window = std::chrono::minutes(5);
constexpr auto dedup_trusted = dedup_window - 10s;

clock::time_point from_ms(long long ms) { return clock::time_point(milliseconds(ms)); }

std::string ms_text(milliseconds d) { return std::to_string(d.count()) + " ms"; }

error over_lease(milliseconds lease) {
  return {errc::invalid_argument, "a lease of " + ms_text(lease) +
                                      " is over SQS's 12-hour visibility ceiling (43200 s, counted from the receive)"};
}

io::interrupt_check interrupt_of(const std::atomic<bool>* cancel) {
  if (!cancel) return {};
  return [cancel]() -> error_code { return cancel->load() ? make_error_code(errc::cancelled) : error_code{}; };
}

std::string random_token() {
  thread_local std::mt19937_64 gen{std::random_device{}()};
  static constexpr char hex[] = "0123456789abcdef";
  std::string s(32, '0');
  for (auto& c : s) c = hex[gen() % 16];
  return s;
}

}  // namespace

long long number_attr(const std::map<std::string, std::string, std::less<>>& attrs, std::string_view name,
                      long long fallback) {
  auto it = attrs.find(name);
  if (it == attrs.end()) return fallback;
  long long v = 0;
  const auto& s = it->second;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc{} && end == s.data() + s.size() ? v : fallback;
}

queue::delivery to_delivery(const message& m, clock::time_point lease_end) {
  queue::delivery d;
  auto id = m.custom.find(attr_id);
  d.message_id = id != m.custom.end() && !id->second.empty() ? id->second : m.message_id;
  d.body = body_of(m);
  d.receipt = m.receipt;
  d.receive_count = static_cast<int>(number_attr(m.system, "ApproximateReceiveCount", 1));
  d.sent_at = from_ms(number_attr(m.custom, attr_sent_at, number_attr(m.system, "SentTimestamp")));
  d.first_received_at = from_ms(number_attr(m.system, "ApproximateFirstReceiveTimestamp"));
  d.lease_expires_at = lease_end;
  return d;
}

sqs_queue::sqs_queue(queue_config config) : config_(std::move(config)) {
  if (config_.dead) dead_ = std::make_unique<class dead_letters>(*this);
}

sqs_queue::~sqs_queue() = default;

queue::capabilities sqs_queue::caps() const noexcept {
  queue::capabilities c;
  c.max_batch = max_batch_entries;
  c.max_message_bytes = body_limit(config_.main.max_message_bytes);
  c.max_delay = max_delay;
  c.max_lease = max_lease;
  c.fencing = false;  // a stale receipt may still delete or change a message
  c.dedup = config_.main.fifo;
  c.dedup_window = config_.main.fifo ? milliseconds(dedup_window) : 0ms;
  c.durable = true;
  c.shared_between_processes = true;
  c.send_batch = true;
  c.atomic_send_batch = false;
  c.stats = true;
  c.extend_batch = true;        // ChangeMessageVisibilityBatch, ten at a time
  c.uncounted_release = false;  // ApproximateReceiveCount never goes down
  return c;
}

queue::dead_letter_store* sqs_queue::dead_letters() noexcept { return dead_.get(); }

std::string sqs_queue::group_for(const std::string& seed) const {
  if (!config_.group_id.empty()) return config_.group_id;
  return seed.empty() ? random_token() : sigv4::sha256_hex(seed).substr(0, 32);
}

std::size_t body_limit(std::size_t max_message_bytes) noexcept {
  return (max_message_bytes - std::min(attribute_room, max_message_bytes / 2)) / 4 * 3;
}

error sqs_queue::check_outgoing(const queue::outgoing_message& m) const {
  if (const auto limit = body_limit(config_.main.max_message_bytes); m.body.size() > limit)
    return {errc::invalid_argument, "a message of " + std::to_string(m.body.size()) + " bytes is over the " +
                                        std::to_string(limit) + " bytes an SQS queue with a MaximumMessageSize of " +
                                        std::to_string(config_.main.max_message_bytes) +
                                        " bytes takes (room is kept for base64 and spool's message attributes)"};
  if (m.delay < 0ms || m.delay > max_delay)
    return {errc::invalid_argument, "a delay of " + ms_text(m.delay) + " is outside SQS's 0 .. 900 s"};
  if (config_.main.fifo && m.delay > 0ms)
    return {errc::invalid_argument, "a FIFO SQS queue takes no delay per message (only the queue's DelaySeconds)"};
  return {};
}

outgoing sqs_queue::to_outgoing(const queue::outgoing_message& m) const {
  outgoing o;
  set_body(o, m.body);
  o.delay_s = whole_seconds(m.delay);
  if (config_.main.fifo) {
    // A hash: SQS takes at most 128 characters of a limited alphabet, spool's keys are any text.
    o.dedup_id = sigv4::sha256_hex(m.dedup_key.empty() ? random_token() : m.dedup_key);
    o.group_id = group_for(m.dedup_key);
  }
  return o;
}

std::optional<std::string> sqs_queue::remembered(const std::string& key) {
  std::lock_guard lock(mutex_);
  auto it = dedup_.find(key);
  if (it == dedup_.end() || steady::now() - it->second.second > dedup_trusted) return std::nullopt;
  return it->second.first;
}

bool sqs_queue::remember(const std::string& key, const std::string& id) {
  std::lock_guard lock(mutex_);
  const auto now = steady::now();
  std::erase_if(dedup_, [&](const auto& e) { return now - e.second.second > dedup_trusted; });
  auto [it, added] = dedup_.try_emplace(key, id, now);
  return !added && it->second.first == id;
}

void sqs_queue::note_delayed(const std::string& id, milliseconds delay) {
  std::lock_guard lock(mutex_);
  const auto now = steady::now();
  std::erase_if(delayed_, [&](const auto& e) { return e.second <= now; });
  if (delay > 0ms) delayed_[id] = now + delay;
}

void sqs_queue::forget_delayed(const std::string& id) {
  std::lock_guard lock(mutex_);
  delayed_.erase(id);
}

result<std::string> sqs_queue::send_to(const queue_info& q, const outgoing& m, const std::string& what) {
  auto body = send_fields(m);
  body["QueueUrl"] = q.url;
  auto answer = config_.conn->call("SendMessage", body, what, q.url);
  if (!answer) return answer.error();
  auto id = answer->is_object() ? string_of(answer->get_object(), "MessageId") : std::string{};
  if (id.empty()) return error{errc::network, what + ": SQS answered no MessageId"};
  return id;
}

result<queue::send_result> sqs_queue::send(const queue::outgoing_message& m) {
  if (auto e = check_outgoing(m)) return e;
  const bool keyed = config_.main.fifo && !m.dedup_key.empty();
  if (keyed)
    if (auto id = remembered(m.dedup_key)) return queue::send_result{*id, true};
  auto id = send_to(config_.main, to_outgoing(m), "SendMessage to " + config_.main.url);
  if (!id) return id.error();
  bool duplicate = keyed && remember(m.dedup_key, *id);
  return queue::send_result{*id, duplicate};
}

result<std::vector<result<queue::send_result>>> sqs_queue::send_batch(
    const std::vector<queue::outgoing_message>& msgs) {
  std::vector<std::optional<result<queue::send_result>>> out(msgs.size());
  std::map<std::string, std::size_t> first_of_key;  // a key repeated in the batch copies its first answer
  std::vector<std::size_t> to_send;
  for (std::size_t i = 0; i < msgs.size(); ++i) {
    const auto& m = msgs[i];
    if (auto e = check_outgoing(m)) {
      out[i] = e;
      continue;
    }
    if (config_.main.fifo && !m.dedup_key.empty()) {
      if (first_of_key.count(m.dedup_key)) continue;
      first_of_key.emplace(m.dedup_key, i);
      if (auto id = remembered(m.dedup_key)) {
        out[i] = queue::send_result{*id, true};
        continue;
      }
    }
    to_send.push_back(i);
  }
  std::vector<outgoing> prepared;
  prepared.reserve(to_send.size());
  for (auto i : to_send) prepared.push_back(to_outgoing(msgs[i]));
  // Chunks of at most 10 entries and 1 MiB of bodies.
  std::size_t chunks = 0;
  error last_whole;
  for (std::size_t start = 0; start < to_send.size();) {
    std::size_t end = start, bytes = 0;
    while (end < to_send.size() && end - start < max_batch_entries &&
           (end == start || bytes + prepared[end].body.size() <= max_batch_payload))
      bytes += prepared[end++].body.size();
    json::array entries;
    for (std::size_t k = start; k < end; ++k) {
      auto e = send_fields(prepared[k]);
      e["Id"] = "m" + std::to_string(k - start);
      entries.push_back(std::move(e));
    }
    ++chunks;
    const std::string what = "SendMessageBatch to " + config_.main.url;
    auto answer = config_.conn->call("SendMessageBatch", {{"QueueUrl", config_.main.url}, {"Entries", entries}}, what,
                                     config_.main.url);
    auto parsed = answer ? parse_batch(*answer) : result<batch_answer>(answer.error());
    for (std::size_t k = start; k < end; ++k) {
      const std::size_t i = to_send[k];
      const std::string entry = "m" + std::to_string(k - start);
      if (!parsed) {
        out[i] = parsed.error();
        last_whole = parsed.error();
      } else if (auto ok = parsed->successful.find(entry); ok != parsed->successful.end()) {
        auto id = string_of(ok->second, "MessageId");
        bool duplicate = config_.main.fifo && !msgs[i].dedup_key.empty() && remember(msgs[i].dedup_key, id);
        out[i] = queue::send_result{id, duplicate};
      } else if (auto bad = parsed->failed.find(entry); bad != parsed->failed.end()) {
        out[i] = to_spool_error(bad->second, what + ", message " + std::to_string(i), config_.main.url, false);
      } else {
        out[i] = error{errc::network, what + ": SQS's answer says nothing of message " + std::to_string(i)};
      }
    }
    start = end;
  }
  // One failed call that was the whole batch: nothing was stored.
  if (chunks == 1 && last_whole && to_send.size() == msgs.size()) return last_whole;
  std::vector<result<queue::send_result>> results;
  results.reserve(msgs.size());
  for (std::size_t i = 0; i < msgs.size(); ++i)
    if (!out[i]) {
      const auto& first = *out[first_of_key.at(msgs[i].dedup_key)];
      out[i] = first ? result<queue::send_result>(queue::send_result{first->message_id, true}) : first;
    }
  for (auto& r : out) results.push_back(std::move(*r));
  return results;
}

result<std::vector<message>> sqs_queue::receive_from(const queue_info& q, std::size_t max, std::int64_t wait_s,
                                                     std::int64_t visibility_s, const io::interrupt_check& interrupt) {
  auto answer = config_.conn->call("ReceiveMessage", receive_request(q.url, max, wait_s, visibility_s),
                                   "ReceiveMessage from " + q.url, q.url, false, interrupt);
  if (!answer) return answer.error();
  return parse_messages(*answer);
}

result<std::vector<queue::delivery>> sqs_queue::receive(const queue::receive_options& options,
                                                        const std::atomic<bool>* cancel) {
  if (options.lease > max_lease || options.lease < 0ms) return over_lease(options.lease);
  std::vector<queue::delivery> out;
  if (options.max_messages == 0) return out;
  const auto deadline = steady::now() + options.wait;
  const auto interrupt = interrupt_of(cancel);
  // Long polls of at most poll_wait each; cancel ends the one under way (the http client asks it).
  for (;;) {
    if (cancel && cancel->load()) return out;
    auto left = std::chrono::duration_cast<milliseconds>(deadline - steady::now());
    std::int64_t wait_s = std::min<std::int64_t>(whole_seconds(left), config_.poll_wait.count());
    const auto start = clock::now();
    auto got = receive_from(config_.main, std::min(options.max_messages, max_batch_entries), wait_s,
                            whole_seconds(options.lease), interrupt);
    if (!got) {
      if (got.error().code == errc::cancelled) return out;
      return got.error();
    }
    for (const auto& m : *got) {
      out.push_back(to_delivery(m, start + options.lease));
      forget_delayed(out.back().message_id);
    }
    if (!out.empty() || steady::now() >= deadline) return out;
  }
}

error sqs_queue::delete_from(const queue_info& q, const std::string& receipt, const std::string& what) {
  auto answer =
      config_.conn->call("DeleteMessage", {{"QueueUrl", q.url}, {"ReceiptHandle", receipt}}, what, q.url, true);
  return answer ? error{} : answer.error();
}

error sqs_queue::ack(const queue::delivery& d) {
  forget_delayed(d.message_id);
  return delete_from(config_.main, d.receipt, "ack of message " + d.message_id);
}

error sqs_queue::nack(const queue::delivery& d, milliseconds delay) {
  if (delay < 0ms || delay > max_delay)
    return {errc::invalid_argument, "a retry delay of " + ms_text(delay) + " is outside SQS's 0 .. 900 s"};
  auto answer = config_.conn->call(
      "ChangeMessageVisibility",
      {{"QueueUrl", config_.main.url}, {"ReceiptHandle", d.receipt}, {"VisibilityTimeout", whole_seconds(delay)}},
      "nack of message " + d.message_id, config_.main.url, true);
  if (!answer) return answer.error();
  note_delayed(d.message_id, delay);
  return {};
}

result<clock::time_point> sqs_queue::extend(const queue::delivery& d, milliseconds lease) {
  auto r = extend_batch({d}, lease);
  return std::move(r.front());
}

std::vector<result<clock::time_point>> sqs_queue::extend_batch(const std::vector<queue::delivery>& ds,
                                                               milliseconds lease) {
  std::vector<result<clock::time_point>> out;
  out.reserve(ds.size());
  if (lease > max_lease || lease < 0ms) {
    for (std::size_t i = 0; i < ds.size(); ++i) out.emplace_back(over_lease(lease));
    return out;
  }
  for (std::size_t start = 0; start < ds.size(); start += max_batch_entries) {
    const std::size_t end = std::min(ds.size(), start + max_batch_entries);
    const auto expiry = clock::now() + lease;
    const std::string what = "extend of the lease on message ";
    if (end - start == 1) {  // one receipt: the plain call, whose refusal is the message's own
      const auto& d = ds[start];
      auto answer = config_.conn->call(
          "ChangeMessageVisibility",
          {{"QueueUrl", config_.main.url}, {"ReceiptHandle", d.receipt}, {"VisibilityTimeout", whole_seconds(lease)}},
          what + d.message_id, config_.main.url, true);
      if (answer) forget_delayed(d.message_id);
      out.push_back(answer ? result<clock::time_point>(expiry) : result<clock::time_point>(answer.error()));
      continue;
    }
    json::array entries;
    for (std::size_t k = start; k < end; ++k)
      entries.push_back(json::object{{"Id", "e" + std::to_string(k - start)},
                                     {"ReceiptHandle", ds[k].receipt},
                                     {"VisibilityTimeout", whole_seconds(lease)}});
    auto answer = config_.conn->call("ChangeMessageVisibilityBatch",
                                     {{"QueueUrl", config_.main.url}, {"Entries", std::move(entries)}},
                                     "ChangeMessageVisibilityBatch on " + config_.main.url, config_.main.url, true);
    auto parsed = answer ? parse_batch(*answer) : result<batch_answer>(answer.error());
    for (std::size_t k = start; k < end; ++k) {
      const std::string id = "e" + std::to_string(k - start);
      if (!parsed) {
        out.emplace_back(parsed.error());
      } else if (auto bad = parsed->failed.find(id); bad != parsed->failed.end()) {
        out.emplace_back(to_spool_error(bad->second, what + ds[k].message_id, config_.main.url, true));
      } else if (parsed->successful.count(id)) {
        forget_delayed(ds[k].message_id);
        out.emplace_back(expiry);
      } else {
        out.emplace_back(error{errc::network, what + ds[k].message_id + ": SQS's answer says nothing of it"});
      }
    }
  }
  return out;
}

error sqs_queue::set_visibility(const queue_info& q, const std::vector<std::string>& receipts,
                                std::int64_t visibility_s) {
  error first;
  for (std::size_t start = 0; start < receipts.size(); start += max_batch_entries) {
    const std::size_t end = std::min(receipts.size(), start + max_batch_entries);
    json::array entries;
    for (std::size_t k = start; k < end; ++k)
      entries.push_back(json::object{{"Id", "v" + std::to_string(k - start)},
                                     {"ReceiptHandle", receipts[k]},
                                     {"VisibilityTimeout", visibility_s}});
    auto answer =
        config_.conn->call("ChangeMessageVisibilityBatch", {{"QueueUrl", q.url}, {"Entries", std::move(entries)}},
                           "ChangeMessageVisibilityBatch on " + q.url, q.url, true);
    auto parsed = answer ? parse_batch(*answer) : result<batch_answer>(answer.error());
    if (!parsed && !first) first = parsed.error();
    if (parsed && !parsed->failed.empty() && !first)
      first = to_spool_error(parsed->failed.begin()->second, "ChangeMessageVisibilityBatch on " + q.url, q.url, true);
  }
  return first;
}

result<queue::queue_stats> sqs_queue::stats() {
  static const std::vector<std::string> names{"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                                              "ApproximateNumberOfMessagesDelayed"};
  auto main = config_.conn->attributes(config_.main.url, names);
  if (!main) return main.error();
  auto count = [](const std::map<std::string, std::string>& a, const std::string& name) -> std::int64_t {
    auto it = a.find(name);
    if (it == a.end()) return 0;
    std::int64_t v = 0;
    std::from_chars(it->second.data(), it->second.data() + it->second.size(), v);
    return v;
  };
  queue::queue_stats s;
  s.visible = count(*main, names[0]);
  s.in_flight = count(*main, names[1]);
  s.delayed = count(*main, names[2]);
  // SQS counts a message nacked with a delay as in flight; the ones this process nacked are delayed.
  {
    std::lock_guard lock(mutex_);
    const auto now = steady::now();
    std::erase_if(delayed_, [&](const auto& e) { return e.second <= now; });
    auto moved = std::min<std::int64_t>(s.in_flight, static_cast<std::int64_t>(delayed_.size()));
    s.in_flight -= moved;
    s.delayed += moved;
  }
  if (config_.dead) {
    auto dead = config_.conn->attributes(config_.dead->url, names);
    if (!dead) return dead.error();
    s.dead = count(*dead, names[0]) + count(*dead, names[1]) + count(*dead, names[2]);
  }
  // ApproximateAgeOfOldestMessage is a CloudWatch metric, not a queue attribute: SQS cannot say.
  s.oldest_age_s = 0;
  return s;
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::aws::sqs
