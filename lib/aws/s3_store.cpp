// S3 as a spool store: inputs, packages, status.json beside the package, read-back and listing.
#include <spool/aws/s3.hpp>
#include <spool/json_text.hpp>
#include <spool/package_layout.hpp>

#include <algorithm>

#include "aws/presign.hpp"
#include "aws/s3_package.hpp"
#include "aws/s3_request.hpp"
#include "aws/s3_source.hpp"

namespace spool::inline SPOOL_ABI_NAMESPACE::aws {
namespace {

constexpr std::size_t small_file_limit = 16u << 20;

std::string folder(std::string key) {
  if (!key.empty() && !key.ends_with('/')) key += '/';
  return key;
}

std::string extension(std::string_view name) {
  auto slash = name.rfind('/');
  auto base = name.substr(slash == std::string_view::npos ? 0 : slash + 1);
  auto dot = base.rfind('.');
  std::string ext(dot == std::string_view::npos ? "" : base.substr(dot + 1));
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext;
}

// status.json: PUT to replace; If-None-Match: * to create only where there is none.
class s3_status final : public io::status_sink {
 public:
  s3_status(std::shared_ptr<s3_client> client, s3_uri where)
      : client_(std::move(client)),
        bucket_(std::move(where.bucket)),
        key_(folder(std::move(where.key)) + std::string(package_layout::status)) {}

  error write(const job_status& s) override { return put(s, false); }

  error create(const job_status& s) override {
    if (!client_->options().conditional_writes) {
      // Check, then put: two creators racing can both succeed here (docs/s3.md).
      auto there = client_->head(bucket_, key_);
      if (!there) return there.error();
      if (*there) return exists();
    }
    return put(s, client_->options().conditional_writes);
  }

  result<std::optional<job_status>> read() override {
    auto text = client_->get_small(bucket_, key_, small_file_limit);
    if (!text) return text.error();
    if (!*text) return std::optional<job_status>{};
    auto s = parse_job_status(**text);
    if (!s) return s.error();
    return std::optional<job_status>(*std::move(s));
  }

 private:
  error exists() const { return error(errc::output_exists, s3_name(bucket_, key_) + " exists already"); }

  error put(const job_status& s, bool only_new) {
    http_request rq;
    rq.method = "PUT";
    rq.url = client_->url(bucket_, key_);
    rq.headers = {{"Content-Type", "application/json"}, {"Cache-Control", "no-cache"}};
    if (only_new) rq.headers.push_back({"If-None-Match", "*"});
    rq.body = to_json_text(to_json(s)) + "\n";
    auto r = client_->service().call(rq);
    if (!r) return r.error();
    // 412: there is one; 409: a concurrent conditional write of the same key won.
    if (only_new && (r->status == 412 || r->status == 409)) return exists();
    if (r->status / 100 != 2) return to_error(parse_service_error(*r), "PUT " + s3_name(bucket_, key_));
    return {};
  }

  std::shared_ptr<s3_client> client_;
  std::string bucket_;
  std::string key_;
};

class s3_store final : public storage::store {
 public:
  explicit s3_store(std::shared_ptr<s3_client> client) : client_(std::move(client)) {}

  storage::capabilities caps() const noexcept override {
    storage::capabilities c;
    c.write = true;
    c.incremental_publish = true;
    c.presign = true;
    return c;
  }

  result<std::unique_ptr<io::byte_source>> open_source(std::string_view path,
                                                       const storage::source_options& o) override {
    auto s = open_s3_source(client_, path, o.policy, o.interrupt);
    if (!s) return s.error();
    return std::unique_ptr<io::byte_source>(*std::move(s));
  }

  result<std::unique_ptr<io::package_sink>> open_package(std::string_view path,
                                                         const storage::package_options& o) override {
    return open_s3_package(client_, path, o.overwrite);
  }

  result<std::unique_ptr<io::status_sink>> open_status(std::string_view path) override {
    auto where = split_path(path);
    if (!where) return where.error();
    return std::unique_ptr<io::status_sink>(std::make_unique<s3_status>(client_, *std::move(where)));
  }

  result<std::optional<std::string>> read_file(std::string_view path) override {
    auto where = split_path(path);
    if (!where) return where.error();
    return client_->get_small(where->bucket, where->key, small_file_limit);
  }

  result<std::optional<std::vector<std::string>>> list(std::string_view path) override {
    auto where = split_path(path);
    if (!where) return where.error();
    const std::string prefix = folder(where->key);
    std::vector<std::string> names;
    std::string token;
    do {
      auto page = client_->list(where->bucket, prefix, "/", token);
      if (!page) return page.error();
      for (auto& k : page->keys) names.push_back(k.substr(prefix.size()));
      for (auto& p : page->prefixes) names.push_back(p.substr(prefix.size(), p.size() - prefix.size() - 1));
      token = page->next;
    } while (!token.empty());
    names.erase(std::remove(names.begin(), names.end(), std::string()), names.end());
    if (!names.empty()) return std::optional<std::vector<std::string>>(std::move(names));
    // No folder: perhaps an object by that very name.
    if (!where->key.empty() && !where->key.ends_with('/')) {
      auto there = client_->head(where->bucket, where->key);
      if (!there) return there.error();
      if (*there) return error(errc::output_exists, s3_name(where->bucket, where->key) + " is an object, not a folder");
    }
    return std::optional<std::vector<std::string>>{};
  }

  error remove_all(std::string_view path) override {
    auto where = split_path(path);
    if (!where) return where.error();
    const std::string prefix = folder(where->key);
    if (prefix.empty()) return error(errc::invalid_argument, "will not remove a whole bucket");
    // Listed afresh after each page is removed: a continuation token would point past what is gone.
    for (;;) {
      auto page = client_->list(where->bucket, prefix, "", {});
      if (!page) return page.error();
      if (page->keys.empty()) return {};
      for (const auto& k : page->keys)
        if (auto e = client_->remove(where->bucket, k)) return e;
    }
  }

  result<std::string> presign(std::string_view path, std::string_view method, std::chrono::seconds expires) override {
    auto where = split_path(path);
    if (!where) return where.error();
    presign_options po;
    po.method = std::string(method);
    po.expires = expires;
    auto url = presign_url(*client_, *where, po, wall_clock::now());
    if (!url) return url.error();
    return url->url;
  }

 private:
  std::shared_ptr<s3_client> client_;
};

}  // namespace

object_headers package_file_headers(std::string_view name) {
  static constexpr std::string_view immutable = "public, max-age=31536000, immutable";
  static constexpr std::string_view short_lived = "public, max-age=2";
  const std::string ext = extension(name);
  const bool audio = name.starts_with(std::string(package_layout::audio_dir) + "/");
  if (ext == "m3u8") return {"application/vnd.apple.mpegurl", std::string(short_lived)};
  if (ext == "mpd") return {"application/dash+xml", std::string(short_lived)};
  if (ext == "m4s" || ext == "mp4") return {audio ? "audio/mp4" : "video/mp4", std::string(immutable)};
  if (ext == "jpg" || ext == "jpeg") return {"image/jpeg", std::string(immutable)};
  if (ext == "png") return {"image/png", std::string(immutable)};
  if (ext == "webp") return {"image/webp", std::string(immutable)};
  if (ext == "vtt") return {"text/vtt", std::string(immutable)};
  // result.json and status.json change when a package is replaced or a job moves on.
  if (ext == "json") return {"application/json", "no-cache"};
  return {"application/octet-stream", std::string(immutable)};
}

result<s3_options> check_s3_options(s3_options o) {
  if (o.region.empty()) return error(errc::invalid_argument, "no AWS region given for S3");
  if (o.endpoint.empty()) return error(errc::invalid_argument, "no S3 endpoint given");
  while (o.endpoint.ends_with('/')) o.endpoint.pop_back();
  if (!o.endpoint.starts_with("https://") && !o.endpoint.starts_with("http://"))
    return error(errc::invalid_argument, "the S3 endpoint must be an http(s) URL: " + o.endpoint);
  if (!o.credentials) return error(errc::no_credentials, "no AWS credentials provider given for S3");
  if (o.read_window < 64LL * 1024) return error(errc::invalid_argument, "the S3 read window must be at least 64 KiB");
  if (o.upload_queue_bytes <= 0 || o.upload_threads <= 0 || o.upload_threads > 64)
    return error(errc::invalid_argument, "the S3 upload queue needs a positive size and 1 to 64 threads");
  // S3's own limits: parts are 5 MiB to 5 GiB (all but the last).
  if (o.part_size < (5LL << 20) || o.part_size > (5LL << 30))
    return error(errc::invalid_argument, "the S3 part size must be between 5 MiB and 5 GiB");
  if (o.multipart_threshold < 0) return error(errc::invalid_argument, "the multipart threshold must not be negative");
  return o;
}

result<std::shared_ptr<storage::store>> make_resolved_s3_store(s3_options options) {
  auto o = check_s3_options(std::move(options));
  if (!o) return o.error();
  auto client = std::make_shared<s3_client>(*std::move(o));
  return std::shared_ptr<storage::store>(std::make_shared<s3_store>(std::move(client)));
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::aws
