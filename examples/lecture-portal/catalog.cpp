#include "catalog.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value_to.hpp>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>
#include <system_error>
#include <utility>

namespace json = boost::json;

namespace portal {

namespace {

constexpr std::string_view state_names[] = {"uploading", "queued", "running", "succeeded", "failed", "dead"};

std::int64_t to_ms(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}
std::chrono::system_clock::time_point from_ms(std::int64_t ms) {
  return std::chrono::system_clock::time_point(std::chrono::milliseconds(ms));
}

bool parse_state(std::string_view s, video_state& out) {
  for (std::size_t i = 0; i < std::size(state_names); ++i)
    if (state_names[i] == s) {
      out = static_cast<video_state>(i);
      return true;
    }
  return false;
}

// What is saved: the API's fields that are not derived, plus the job id and the upload's expiry.
json::object to_record(const video& v) {
  return {{"id", v.id},
          {"filename", v.filename},
          {"size", v.size},
          {"content_type", v.content_type},
          {"state", to_string(v.state)},
          {"progress", v.progress},
          {"eta_s", v.eta_s},
          {"playable", v.playable},
          {"playable_s", v.playable_s},
          {"error", v.error},
          {"created_ms", to_ms(v.created_at)},
          {"updated_ms", to_ms(v.updated_at)},
          {"status_ms", to_ms(v.status_at)},
          {"job_id", v.job_id},
          {"upload_expires", v.upload_expires}};
}

std::optional<video> from_record(const json::value& jv) {
  const auto* o = jv.if_object();
  if (!o) return std::nullopt;
  try {
    video v;
    v.id = json::value_to<std::string>(o->at("id"));
    v.filename = json::value_to<std::string>(o->at("filename"));
    v.size = o->at("size").to_number<std::int64_t>();
    v.content_type = json::value_to<std::string>(o->at("content_type"));
    if (!parse_state(o->at("state").as_string(), v.state)) return std::nullopt;
    v.progress = o->at("progress").to_number<double>();
    v.eta_s = o->at("eta_s").to_number<double>();
    if (const auto* p = o->if_contains("playable"); p && p->is_bool()) v.playable = p->get_bool();
    if (const auto* p = o->if_contains("playable_s"); p && p->is_number()) v.playable_s = p->to_number<double>();
    v.error = o->at("error");
    v.created_at = from_ms(o->at("created_ms").to_number<std::int64_t>());
    v.updated_at = from_ms(o->at("updated_ms").to_number<std::int64_t>());
    v.status_at = from_ms(o->at("status_ms").to_number<std::int64_t>());
    v.job_id = json::value_to<std::string>(o->at("job_id"));
    v.upload_expires = o->at("upload_expires").to_number<std::int64_t>();
    if (!valid_id(v.id)) return std::nullopt;
    return v;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace

std::string_view to_string(video_state s) noexcept { return state_names[static_cast<std::size_t>(s)]; }

bool is_final(video_state s) noexcept { return s == video_state::succeeded || s == video_state::dead; }

bool valid_id(std::string_view id) noexcept {
  return id.size() == 16 &&
         std::all_of(id.begin(), id.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::string new_id() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(rng()));
  return text;
}

json::object to_json(const video& v) {
  const std::string base = "/videos/" + v.id;
  // A growing package plays while its job runs; a failed job's was removed.
  const bool playable = v.state == video_state::succeeded || (v.playable && v.state == video_state::running);
  return {{"id", v.id},
          {"filename", v.filename},
          {"size", v.size},
          {"content_type", v.content_type},
          {"state", to_string(v.state)},
          {"progress", v.progress},
          {"eta_s", v.eta_s},
          {"playable", playable},
          {"playable_s", playable ? v.playable_s : 0.0},
          {"hls_url", base + "/package/master.m3u8"},
          {"dash_url", base + "/package/manifest.mpd"},
          {"player_url", "/player?id=" + v.id},
          {"error", v.error},
          {"created_at", spool::to_iso8601(v.created_at)},
          {"updated_at", spool::to_iso8601(v.updated_at)}};
}

catalog::catalog(std::filesystem::path dir) : dir_(std::move(dir)) {
  std::filesystem::create_directories(dir_);
  for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
    if (entry.path().extension() != ".json") continue;
    std::ifstream in(entry.path());
    std::stringstream text;
    text << in.rdbuf();
    boost::system::error_code ec;
    auto jv = json::parse(text.str(), ec);
    auto v = ec ? std::nullopt : from_record(jv);
    if (!v) {
      std::fprintf(stderr, "portal: skipping %s: not a video record\n", entry.path().c_str());
      continue;
    }
    videos_.emplace(v->id, std::move(*v));
  }
}

void catalog::save(const video& v) const {
  const auto path = dir_ / (v.id + ".json");
  const auto tmp = dir_ / (v.id + ".json.tmp");
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << json::serialize(to_record(v));
    if (!out.flush()) {
      std::fprintf(stderr, "portal: cannot save %s\n", tmp.c_str());
      return;
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);  // readers and restarts see the old record or the new one
  if (ec) std::fprintf(stderr, "portal: cannot save %s: %s\n", path.c_str(), ec.message().c_str());
}

bool catalog::add(video v, std::size_t limit) {
  {
    std::lock_guard lock(mutex_);
    if (videos_.size() >= limit) return false;
    v.version = 1;
    save(v);
    videos_.emplace(v.id, v);
  }
  notify(v);
  return true;
}

std::optional<video> catalog::get(std::string_view id) const {
  std::lock_guard lock(mutex_);
  auto it = videos_.find(id);
  if (it == videos_.end()) return std::nullopt;
  return it->second;
}

std::vector<video> catalog::list() const {
  std::vector<video> all;
  {
    std::lock_guard lock(mutex_);
    all.reserve(videos_.size());
    for (const auto& [id, v] : videos_) all.push_back(v);
  }
  std::sort(all.begin(), all.end(), [](const video& a, const video& b) {
    return a.created_at != b.created_at ? a.created_at > b.created_at : a.id < b.id;
  });
  return all;
}

std::size_t catalog::size() const {
  std::lock_guard lock(mutex_);
  return videos_.size();
}

bool catalog::update(std::string_view id, const std::function<void(video&)>& change) {
  video copy;
  {
    std::lock_guard lock(mutex_);
    auto it = videos_.find(id);
    if (it == videos_.end()) return false;
    change(it->second);
    it->second.updated_at = std::chrono::system_clock::now();
    ++it->second.version;
    save(it->second);
    copy = it->second;
  }
  notify(copy);
  return true;
}

void catalog::apply(const spool::job_status& s) {
  std::string id;
  if (const auto* meta = s.metadata.if_object())
    if (const auto* vid = meta->if_contains("video_id"); vid && vid->is_string()) id = vid->as_string();
  if (!valid_id(id)) return;
  video copy;
  {
    std::lock_guard lock(mutex_);
    auto it = videos_.find(id);
    if (it == videos_.end()) return;
    video& v = it->second;
    if (s.updated_at < v.status_at || v.state == video_state::uploading) return;
    video_state next = video_state::queued;
    switch (s.state) {
      case spool::job_state::queued: next = video_state::queued; break;
      case spool::job_state::running: next = video_state::running; break;
      case spool::job_state::succeeded: next = video_state::succeeded; break;
      case spool::job_state::failed: next = video_state::failed; break;
      case spool::job_state::dead: next = video_state::dead; break;
    }
    if (is_final(v.state) && next != v.state) return;  // a late running tick after the end
    const double progress = next == video_state::succeeded ? 1.0 : s.progress;
    json::value error = s.error ? spool::error_json(s.error, s.error_message) : json::value(nullptr);
    if (v.state == next && v.progress == progress && v.eta_s == s.eta_s && v.error == error &&
        v.playable == s.playable && v.playable_s == s.playable_s) {
      v.status_at = s.updated_at;
      return;
    }
    v.state = next;
    v.progress = progress;
    v.eta_s = next == video_state::succeeded ? 0 : s.eta_s;
    v.playable = s.playable;
    v.playable_s = s.playable_s;
    v.error = std::move(error);
    v.status_at = s.updated_at;
    v.updated_at = std::chrono::system_clock::now();
    if (v.job_id.empty()) v.job_id = s.job_id;
    ++v.version;
    save(v);
    copy = v;
  }
  notify(copy);
}

std::shared_ptr<void> catalog::watch(watcher w) {
  std::uint64_t handle = 0;
  {
    std::lock_guard lock(watch_->mutex);
    handle = watch_->next++;
    watch_->watchers.emplace(handle, std::move(w));
  }
  return std::shared_ptr<void>(nullptr, [list = std::weak_ptr<watch_list>(watch_), handle](void*) {
    if (auto l = list.lock()) {
      std::lock_guard lock(l->mutex);
      l->watchers.erase(handle);
    }
  });
}

void catalog::notify(const video& v) {
  std::lock_guard lock(watch_->mutex);
  for (const auto& [handle, w] : watch_->watchers) w(v);
}

std::map<video_state, std::int64_t> catalog::counts() const {
  std::map<video_state, std::int64_t> out;
  for (std::size_t i = 0; i < std::size(state_names); ++i) out[static_cast<video_state>(i)] = 0;
  std::lock_guard lock(mutex_);
  for (const auto& [id, v] : videos_) ++out[v.state];
  return out;
}

}  // namespace portal
