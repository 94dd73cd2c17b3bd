#pragma once
// Internal: an s3://bucket/key input read with ranged GETs. Each GET asks for one window of
// s3_options::read_window bytes from the offset read; while the demuxer reads on through a window,
// the next one is fetched in the background. Two windows are all the source keeps: memory stays
// bounded whatever the object's size. Every range is asked If-Match the ETag seen at open, so an
// object replaced mid-read is an error, not a splice.
#include <spool/io.hpp>

#include <atomic>
#include <cstdint>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "aws/s3_request.hpp"

namespace spool::inline SPOOL_ABI_NAMESPACE::aws {

/// Whether `policy` allows reading `bucket`/`key` (input_policy::s3_prefixes).
bool s3_input_allowed(const input_policy& policy, std::string_view bucket, std::string_view key);

class s3_source final : public io::byte_source {
 public:
  s3_source(std::shared_ptr<s3_client> client, s3_uri where, object_info info);
  ~s3_source() override;
  s3_source(const s3_source&) = delete;
  s3_source& operator=(const s3_source&) = delete;

  result<std::size_t> read_at(std::int64_t offset, std::span<std::byte> buffer) override;
  std::int64_t size() const noexcept override { return info_.size; }
  std::string name() const override { return s3_name(where_.bucket, where_.key); }
  /// Taken by the next GET; one already fetching ahead keeps the check it started with.
  void set_interrupt(io::interrupt_check check) override { interrupt_ = std::move(check); }

  /// For tests of the bound: GETs sent, and the largest body one of them delivered.
  int gets() const noexcept { return gets_; }
  std::int64_t largest_body() const noexcept { return largest_body_; }

 private:
  bool in_window(std::int64_t offset) const noexcept;
  /// One ranged GET into `into` (sized one window); the bytes received.
  result<std::size_t> fetch(std::int64_t offset, std::vector<std::byte>& into, const io::interrupt_check& interrupt);
  void start_ahead();
  /// Waits for the window being fetched ahead and makes it current when it holds `offset`.
  void take_ahead(std::int64_t offset);

  std::shared_ptr<s3_client> client_;
  s3_uri where_;
  object_info info_;
  io::interrupt_check interrupt_;
  std::vector<std::byte> window_;
  std::int64_t window_at_ = 0;
  std::size_t window_len_ = 0;
  std::vector<std::byte> ahead_buffer_;
  std::int64_t ahead_at_ = 0;
  std::future<result<std::size_t>> ahead_;
  std::atomic<int> gets_{0};
  std::atomic<std::int64_t> largest_body_{0};
};

/// Opens `path` ("bucket/key") under `policy`: errc::protocol_not_allowed when the policy does not
/// list it, errc::input_unreadable when there is no such object.
result<std::unique_ptr<s3_source>> open_s3_source(std::shared_ptr<s3_client> client, std::string_view path,
                                                  const input_policy& policy, const io::interrupt_check& interrupt);

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::aws
