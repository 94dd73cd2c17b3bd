// The SQS dead-letter store: a second queue, read by holding its messages for a moment.
#include "aws/sqs_dead_letters.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>

#include "aws/sigv4.hpp"
#include "aws/sqs_queue.hpp"

namespace spool::inline SPOOL_ABI_NAMESPACE::aws::sqs {
namespace {

// How long a scan keeps the dead letters invisible before it gives them back (it gives them back as
// soon as it is done; this only matters if the process dies in between).
constexpr std::int64_t scan_hold_s = 30;

std::string spool_id(const message& m) {
  auto it = m.custom.find(attr_id);
  return it != m.custom.end() && !it->second.empty() ? it->second : m.message_id;
}

std::string custom_of(const message& m, const char* name) {
  auto it = m.custom.find(name);
  return it == m.custom.end() ? std::string{} : it->second;
}

long long now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(queue::clock::now().time_since_epoch()).count();
}

}  // namespace

dead_position position_of(const message& m) {
  // A message SQS moved itself (maxReceiveCount) has no spool.dead_at: its SentTimestamp stands in.
  long long us = number_attr(m.custom, attr_dead_at, number_attr(m.system, "SentTimestamp") * 1000);
  return {us, spool_id(m)};
}

queue::dead_letter_record record_of(const message& m) {
  queue::dead_letter_record r;
  r.message_id = spool_id(m);
  r.body = body_of(m);
  const bool moved_by_sqs = m.custom.find(attr_dead_at) == m.custom.end();
  r.reason =
      moved_by_sqs ? "moved by SQS after the RedrivePolicy's maxReceiveCount receives" : custom_of(m, attr_reason);
  r.last_error_json = custom_of(m, attr_error);
  // SQS carries the receive count over to the dead-letter queue; the scan that read it counted one more.
  r.receive_count = static_cast<int>(
      number_attr(m.custom, attr_receive_count, std::max(0LL, number_attr(m.system, "ApproximateReceiveCount") - 1)));
  r.sent_at = queue::clock::time_point(
      std::chrono::milliseconds(number_attr(m.custom, attr_sent_at, number_attr(m.system, "SentTimestamp"))));
  r.dead_at = queue::clock::time_point(std::chrono::milliseconds(position_of(m).dead_at_us / 1000));
  return r;
}

std::string to_string(const dead_position& p) { return std::to_string(p.dead_at_us) + "/" + p.message_id; }

bool parse_position(std::string_view text, dead_position& out) {
  auto slash = text.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == text.size()) return false;
  long long us = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + slash, us);
  if (ec != std::errc{} || end != text.data() + slash || us < 0) return false;
  out = {us, std::string(text.substr(slash + 1))};
  return true;
}

error dead_letters::dead_letter(const queue::delivery& d, const std::string& reason,
                                const std::string& last_error_json) {
  const auto& cfg = owner_.config();
  const auto& dead = *cfg.dead;
  outgoing o;
  set_body(o, d.body);
  const auto dead_at = now_us();
  o.attributes[attr_id] = d.message_id;
  o.attributes[attr_sent_at] =
      std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(d.sent_at.time_since_epoch()).count());
  o.attributes[attr_receive_count] = std::to_string(d.receive_count);
  o.attributes[attr_dead_at] = std::to_string(dead_at);
  // SQS refuses empty attribute values: an empty reason or error is simply absent.
  if (!reason.empty()) o.attributes[attr_reason] = reason;
  if (!last_error_json.empty()) o.attributes[attr_error] = last_error_json;
  if (dead.fifo) {
    o.group_id = owner_.group_for(d.message_id);
    o.dedup_id = sigv4::sha256_hex(d.message_id + "/" + std::to_string(dead_at));
  }
  std::size_t size = o.body.size();
  for (const auto& [k, v] : o.attributes) size += k.size() + v.size() + 6;  // + the DataType "String"
  if (size > dead.max_message_bytes)
    return {errc::invalid_argument, "dead_letter of message " + d.message_id + ": with its reason and error it is " +
                                        std::to_string(size) +
                                        " bytes, over the dead-letter queue's MaximumMessageSize of " +
                                        std::to_string(dead.max_message_bytes) + " bytes"};
  auto sent = owner_.send_to(dead, o, "dead_letter of message " + d.message_id + " to " + dead.url);
  if (!sent) return sent.error();
  if (auto e = owner_.delete_from(cfg.main, d.receipt, "dead_letter of message " + d.message_id)) {
    e.message += " (the dead-letter queue holds a copy of it all the same)";
    return e;
  }
  return {};
}

result<std::vector<message>> dead_letters::scan() {
  const auto& cfg = owner_.config();
  std::vector<message> held;
  while (held.size() < cfg.max_dead_letter_scan) {
    auto got = owner_.receive_from(*cfg.dead, max_batch_entries, 0, scan_hold_s);
    if (!got) {
      (void)release(held);
      return got.error();
    }
    if (got->empty()) break;
    held.insert(held.end(), std::make_move_iterator(got->begin()), std::make_move_iterator(got->end()));
  }
  return held;
}

error dead_letters::release(const std::vector<message>& held) {
  std::vector<std::string> receipts;
  receipts.reserve(held.size());
  for (const auto& m : held) receipts.push_back(m.receipt);
  return owner_.set_visibility(*owner_.config().dead, receipts, 0);
}

result<queue::dead_letter_page> dead_letters::list_dead(std::string_view after, std::size_t limit) {
  if (limit == 0) return error{errc::invalid_argument, "list_dead with a limit of 0"};
  dead_position from;
  if (!after.empty() && !parse_position(after, from))
    return error{errc::invalid_argument, "'" + std::string(after) + "' is not a position in an SQS dead-letter queue"};
  auto held = scan();
  if (!held) return held.error();
  std::vector<std::pair<dead_position, const message*>> order;
  for (const auto& m : *held) {
    auto p = position_of(m);
    if (after.empty() || p > from) order.emplace_back(std::move(p), &m);
  }
  std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  queue::dead_letter_page page;
  for (std::size_t i = 0; i < order.size() && i < limit; ++i) page.records.push_back(record_of(*order[i].second));
  if (order.size() > limit) page.next = to_string(order[limit - 1].first);
  if (auto e = release(*held)) return e;
  return page;
}

result<std::optional<std::size_t>> dead_letters::move_task() {
  const auto& cfg = owner_.config();
  if (no_move_task_.load() || cfg.main.arn.empty() || cfg.dead->arn.empty()) return std::optional<std::size_t>{};
  auto before = cfg.conn->attributes(cfg.dead->url, {"ApproximateNumberOfMessages"});
  if (!before) return before.error();
  service_error refusal;
  auto answer = cfg.conn->call("StartMessageMoveTask", {{"SourceArn", cfg.dead->arn}, {"DestinationArn", cfg.main.arn}},
                               "StartMessageMoveTask from " + cfg.dead->url, cfg.dead->url, false, {}, &refusal);
  if (!answer) {
    if (refusal.status == 0) return answer.error();  // not the service's answer: the network
    // An emulator without move tasks, or a queue SQS will not move from: receive, send, delete instead.
    if (refusal.code == "InvalidAction" || refusal.code.starts_with("UnknownOperation") ||
        refusal.code == "UnsupportedOperation" || refusal.status >= 500)
      no_move_task_ = true;
    return std::optional<std::size_t>{};
  }
  long long n = 0;
  if (auto it = before->find("ApproximateNumberOfMessages"); it != before->end())
    std::from_chars(it->second.data(), it->second.data() + it->second.size(), n);
  return std::optional<std::size_t>(static_cast<std::size_t>(std::max(0LL, n)));
}

result<std::size_t> dead_letters::redrive(const std::string& message_id) {
  const auto& cfg = owner_.config();
  if (message_id.empty() && cfg.use_move_task) {
    auto moved = move_task();
    if (!moved) return moved.error();
    if (*moved) return **moved;
  }
  auto held = scan();
  if (!held) return held.error();
  std::vector<message> rest;
  std::size_t moved = 0;
  error failed;
  for (auto& m : *held) {
    const std::string id = spool_id(m);
    if (failed || (!message_id.empty() && id != message_id)) {
      rest.push_back(std::move(m));
      continue;
    }
    // A new message: a fresh receive count; spool's id and first send time go with it.
    outgoing o;
    set_body(o, body_of(m));
    o.attributes[attr_id] = id;
    o.attributes[attr_sent_at] =
        std::to_string(number_attr(m.custom, attr_sent_at, number_attr(m.system, "SentTimestamp")));
    if (cfg.main.fifo) {
      o.group_id = owner_.group_for(id);
      o.dedup_id = sigv4::sha256_hex(id + "/redrive/" + std::to_string(now_us()));
    }
    auto sent = owner_.send_to(cfg.main, o, "redrive of message " + id + " to " + cfg.main.url);
    if (!sent) {
      failed = sent.error();
      rest.push_back(std::move(m));
      continue;
    }
    if (auto e = owner_.delete_from(*cfg.dead, m.receipt, "redrive of message " + id)) {
      failed = e;
      continue;
    }
    ++moved;
  }
  auto released = release(rest);
  if (failed) return failed;
  if (released) return released;
  return moved;
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::aws::sqs
