#pragma once
// Internal: a package published under s3://bucket/prefix/ as it is produced. Segments go through a
// bounded upload queue (put() waits while it is full, which holds back the encoders rather than
// memory), the progressive MP4 as a multipart upload streamed from disk, manifests at commit, after
// every file they name, and result.json last of all. S3 objects are visible once written: the sink
// is incremental, not atomic. abort() deletes what this attempt wrote and aborts its uploads.
#include <spool/io.hpp>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "aws/s3_request.hpp"

namespace spool::inline SPOOL_ABI_NAMESPACE::aws {

class s3_package final : public io::package_sink {
 public:
  s3_package(std::shared_ptr<s3_client> client, s3_uri where, bool overwrite);
  ~s3_package() override;
  s3_package(const s3_package&) = delete;
  s3_package& operator=(const s3_package&) = delete;

  io::sink_capabilities caps() const noexcept override { return {.incremental = true}; }
  error put(std::string_view name, std::span<const std::byte> bytes) override;
  error put_file(std::string_view name, const std::filesystem::path& local_file) override;
  error put_manifest(std::string_view name, std::string_view text) override;
  error commit(const std::function<error()>& check) override;
  void abort() noexcept override;
  error publish_now() override;

  /// For tests of the bound: the most bytes the queue held (waiting and uploading) at once.
  std::int64_t peak_queued_bytes() const;

 private:
  struct job {
    std::string name;
    std::vector<std::byte> bytes;
  };

  std::string key_of(std::string_view name) const;
  error check_name(std::string_view name) const;
  void run_uploads();
  error drain();
  error first_error() const;
  void record_error(error e);
  error put_object(const std::string& name, std::string body);
  void stop_threads() noexcept;
  void remove_stale() noexcept;

  std::shared_ptr<s3_client> client_;
  s3_uri where_;
  bool overwrite_;

  mutable std::mutex mutex_;
  std::condition_variable space_;  ///< the queue has room, or a job finished
  std::condition_variable work_;   ///< a job was queued, or stop
  std::deque<job> queue_;
  std::int64_t queued_bytes_ = 0;  ///< waiting and in upload
  std::int64_t peak_bytes_ = 0;
  int in_flight_ = 0;
  bool stopping_ = false;
  error error_;
  std::set<std::string> written_;                               ///< keys this attempt created
  std::map<std::string, std::string> uploads_;                  ///< key -> multipart upload id in progress
  std::vector<std::pair<std::string, std::string>> manifests_;  ///< name, text, in the order given
  std::set<std::string> fresh_;                                 ///< manifests given since the last publish_now()
  bool committed_ = false;
  bool aborted_ = false;
  std::vector<std::thread> threads_;
};

/// Opens the package at `path` ("bucket/prefix"): errc::output_exists when a package (result.json)
/// is there and `overwrite` is false.
result<std::unique_ptr<io::package_sink>> open_s3_package(std::shared_ptr<s3_client> client, std::string_view path,
                                                          bool overwrite);

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::aws
