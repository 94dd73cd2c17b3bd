// Packages published to S3 as they are produced.
#include "aws/s3_package.hpp"

#include <spool/package_layout.hpp>

#include <algorithm>
#include <filesystem>

#include "aws/s3_multipart.hpp"

namespace spool::inline SPOOL_ABI_NAMESPACE::aws {
namespace {

http_headers headers_for(std::string_view name) {
  auto h = package_file_headers(name);
  return {{"Content-Type", h.content_type}, {"Cache-Control", h.cache_control}};
}

// When manifests go up: media playlists (in a rendition's folder) before the master and the MPD that
// name them, status.json before result.json, result.json last.
int manifest_rank(std::string_view name) {
  if (name == package_layout::result) return 3;
  if (name == package_layout::status) return 2;
  return name.find('/') != std::string_view::npos ? 0 : 1;
}

}  // namespace

s3_package::s3_package(std::shared_ptr<s3_client> client, s3_uri where, bool overwrite)
    : client_(std::move(client)), where_(std::move(where)), overwrite_(overwrite) {
  if (!where_.key.empty() && !where_.key.ends_with('/')) where_.key += '/';
  int n = std::max(1, client_->options().upload_threads);
  threads_.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) threads_.emplace_back([this] { run_uploads(); });
}

s3_package::~s3_package() {
  if (!committed_) abort();
  stop_threads();
}

std::string s3_package::key_of(std::string_view name) const { return where_.key + std::string(name); }

error s3_package::check_name(std::string_view name) const {
  bool ok = !name.empty() && name.front() != '/';
  for (std::size_t at = 0; ok && at <= name.size();) {
    auto slash = name.find('/', at);
    auto part = name.substr(at, slash == std::string_view::npos ? std::string_view::npos : slash - at);
    ok = !part.empty() && part != "." && part != "..";
    if (slash == std::string_view::npos) break;
    at = slash + 1;
  }
  if (!ok) return error(errc::internal, "a package file name must be a relative path: '" + std::string(name) + "'");
  std::lock_guard lock(mutex_);
  if (aborted_) return error(errc::cancelled, "the package was aborted");
  if (committed_) return error(errc::internal, "the package is already committed");
  return {};
}

error s3_package::first_error() const {
  std::lock_guard lock(mutex_);
  return error_;
}

void s3_package::record_error(error e) {
  std::lock_guard lock(mutex_);
  if (!error_) error_ = std::move(e);
}

error s3_package::put_object(const std::string& name, std::string body) {
  const std::string key = key_of(name);
  {
    // Tracked before the PUT: one that fails after S3 stored it is still removed by abort().
    std::lock_guard lock(mutex_);
    written_.insert(key);
  }
  return client_->put(where_.bucket, key, std::move(body), headers_for(name));
}

void s3_package::run_uploads() {
  for (;;) {
    job j;
    {
      std::unique_lock lock(mutex_);
      work_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      j = std::move(queue_.front());
      queue_.pop_front();
      ++in_flight_;
    }
    const auto size = static_cast<std::int64_t>(j.bytes.size());
    error e;
    if (!first_error())
      e = put_object(j.name, std::string(reinterpret_cast<const char*>(j.bytes.data()), j.bytes.size()));
    j.bytes = {};
    {
      std::lock_guard lock(mutex_);
      queued_bytes_ -= size;
      --in_flight_;
      if (e && !error_) error_ = std::move(e);
    }
    space_.notify_all();
  }
}

error s3_package::put(std::string_view name, std::span<const std::byte> bytes) {
  if (auto e = check_name(name)) return e;
  const auto size = static_cast<std::int64_t>(bytes.size());
  const auto limit = client_->options().upload_queue_bytes;
  std::unique_lock lock(mutex_);
  // Waits for room; a file larger than the whole queue waits until the queue is empty.
  space_.wait(lock, [&] { return error_ || queued_bytes_ == 0 || queued_bytes_ + size <= limit; });
  if (error_) return error_;
  queued_bytes_ += size;
  peak_bytes_ = std::max(peak_bytes_, queued_bytes_);
  queue_.push_back({std::string(name), std::vector<std::byte>(bytes.begin(), bytes.end())});
  lock.unlock();
  work_.notify_one();
  return {};
}

error s3_package::put_file(std::string_view name, const std::filesystem::path& local_file) {
  if (auto e = check_name(name)) return e;
  if (auto e = first_error()) return e;
  std::error_code ec;
  auto size = static_cast<std::int64_t>(std::filesystem::file_size(local_file, ec));
  if (ec) return error(errc::io_error, "cannot read the size of " + local_file.string() + ": " + ec.message());
  const std::string key = key_of(name);
  const auto& o = client_->options();
  error e;
  if (size >= o.multipart_threshold) {
    e = upload_file_in_parts(*client_, where_.bucket, key, headers_for(name), local_file, o.part_size,
                             [&](const std::string& id) {
                               std::lock_guard lock(mutex_);
                               uploads_[key] = id;
                               written_.insert(key);
                             });
    std::lock_guard lock(mutex_);
    uploads_.erase(key);  // completed, or aborted by upload_file_in_parts
  } else {
    auto body = file_body(local_file, 0, size);
    if (!body) return body.error();
    {
      std::lock_guard lock(mutex_);
      written_.insert(key);
    }
    http_request rq;
    rq.method = "PUT";
    rq.url = client_->url(where_.bucket, key);
    rq.headers = headers_for(name);
    rq.stream = *std::move(body);
    auto r = client_->send(rq, "PUT " + s3_name(where_.bucket, key), std::string(sigv4::unsigned_payload));
    if (!r) e = r.error();
  }
  if (e) return e;
  std::filesystem::remove(local_file, ec);  // the sink owns the file now, as a move would
  return {};
}

error s3_package::put_manifest(std::string_view name, std::string_view text) {
  if (auto e = check_name(name)) return e;
  std::lock_guard lock(mutex_);
  auto same = [&](const auto& m) { return m.first == name; };
  if (auto it = std::find_if(manifests_.begin(), manifests_.end(), same); it != manifests_.end())
    it->second = std::string(text);
  else
    manifests_.emplace_back(std::string(name), std::string(text));
  fresh_.insert(std::string(name));
  return {};
}

error s3_package::drain() {
  std::unique_lock lock(mutex_);
  space_.wait(lock, [&] { return queue_.empty() && in_flight_ == 0; });
  return error_;
}

error s3_package::publish_now() {
  if (auto e = drain()) return e;
  // The manifests given so far name only files that are up now; result.json waits for commit.
  std::vector<std::pair<std::string, std::string>> ready;
  {
    std::lock_guard lock(mutex_);
    // A growing package calls this every second: only what changed goes up again.
    for (const auto& m : manifests_)
      if (m.first != package_layout::result && fresh_.erase(m.first) > 0) ready.push_back(m);
  }
  std::stable_sort(ready.begin(), ready.end(),
                   [](const auto& a, const auto& b) { return manifest_rank(a.first) < manifest_rank(b.first); });
  for (auto& [name, text] : ready)
    if (auto e = put_object(name, text)) return e;
  return {};
}

error s3_package::commit(const std::function<error()>& check) {
  {
    std::lock_guard lock(mutex_);
    if (committed_ || aborted_) return error(errc::internal, "the package is already committed or aborted");
  }
  if (auto e = drain()) return e;
  if (check)
    if (auto e = check()) return e;
  if (!overwrite_) {
    // Another job's package may have been published here meanwhile.
    auto there = client_->head(where_.bucket, key_of(package_layout::result));
    if (!there) return there.error();
    if (*there)
      return error(errc::output_exists, s3_name(where_.bucket, where_.key) + " received another package meanwhile");
  }
  std::vector<std::pair<std::string, std::string>> order;
  {
    std::lock_guard lock(mutex_);
    order = manifests_;
  }
  std::stable_sort(order.begin(), order.end(),
                   [](const auto& a, const auto& b) { return manifest_rank(a.first) < manifest_rank(b.first); });
  for (auto& [name, text] : order) {
    if (check && name == package_layout::result)
      if (auto e = check()) return e;
    if (auto e = put_object(name, std::move(text))) return e;
  }
  {
    std::lock_guard lock(mutex_);
    committed_ = true;
  }
  if (overwrite_) remove_stale();
  return {};
}

void s3_package::remove_stale() noexcept {
  // The replaced package's files that this one does not have; best effort, the package is whole.
  try {
    std::set<std::string> written;
    {
      std::lock_guard lock(mutex_);
      written = written_;
    }
    std::vector<std::string> stale;
    std::string token;
    do {
      auto page = client_->list(where_.bucket, where_.key, "", token);
      if (!page) return;
      for (auto& k : page->keys)
        if (!written.contains(k) && k != key_of(package_layout::status)) stale.push_back(std::move(k));
      token = page->next;
    } while (!token.empty());
    for (const auto& k : stale) (void)client_->remove(where_.bucket, k);
  } catch (...) {
  }
}

void s3_package::abort() noexcept {
  try {
    {
      std::lock_guard lock(mutex_);
      if (committed_ || aborted_) return;
      aborted_ = true;
      // Nothing more goes up: queued files are dropped, uploads in flight finish and are deleted.
      if (!error_) error_ = error(errc::cancelled, "the package was aborted");
      for (auto& j : queue_) queued_bytes_ -= static_cast<std::int64_t>(j.bytes.size());
      queue_.clear();
    }
    space_.notify_all();
    (void)drain();
    std::map<std::string, std::string> uploads;
    std::set<std::string> written;
    {
      std::lock_guard lock(mutex_);
      uploads = uploads_;
      written = written_;
    }
    for (const auto& [key, id] : uploads) (void)abort_multipart(*client_, where_.bucket, key, id);
    // status.json is the worker's record of the job, not the package's: it stays.
    written.erase(key_of(package_layout::status));
    for (const auto& key : written) (void)client_->remove(where_.bucket, key);
  } catch (...) {
  }
}

void s3_package::stop_threads() noexcept {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  work_.notify_all();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
}

std::int64_t s3_package::peak_queued_bytes() const {
  std::lock_guard lock(mutex_);
  return peak_bytes_;
}

result<std::unique_ptr<io::package_sink>> open_s3_package(std::shared_ptr<s3_client> client, std::string_view path,
                                                          bool overwrite) {
  auto where = split_path(path);
  if (!where) return where.error();
  std::string prefix = where->key;
  if (!prefix.empty() && !prefix.ends_with('/')) prefix += '/';
  auto result_there = client->head(where->bucket, prefix + std::string(package_layout::result));
  if (!result_there) return result_there.error();
  if (*result_there) {
    if (!overwrite)
      return error(errc::output_exists, s3_name(where->bucket, prefix) + " holds a package already (result.json)");
    // Replacing: the old completion marker goes first, so nobody takes the mix for a finished package.
    if (auto e = client->remove(where->bucket, prefix + std::string(package_layout::result))) return e;
  }
  return std::unique_ptr<io::package_sink>(
      std::make_unique<s3_package>(std::move(client), *std::move(where), overwrite));
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::aws
