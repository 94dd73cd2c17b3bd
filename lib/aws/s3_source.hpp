#pragma once
// Internal: an s3://bucket/key input read with ranged GETs. Each GET asks for one window of
// s3_options::read_window bytes from the offset read (read-ahead for the demuxer's next reads), and
// the window is all the source keeps: memory stays bounded whatever the object's size. Every range
// is asked If-Match the ETag seen at open, so an object replaced mid-read is an error, not a splice.
#include <spool/io.hpp>

#include <cstdint>
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

  result<std::size_t> read_at(std::int64_t offset, std::span<std::byte> buffer) override;
  std::int64_t size() const noexcept override { return info_.size; }
  std::string name() const override { return s3_name(where_.bucket, where_.key); }
  void set_interrupt(io::interrupt_check check) override { interrupt_ = std::move(check); }

  /// For tests of the bound: GETs sent, and the largest body one of them delivered.
  int gets() const noexcept { return gets_; }
  std::int64_t largest_body() const noexcept { return largest_body_; }

 private:
  error fill(std::int64_t offset);

  std::shared_ptr<s3_client> client_;
  s3_uri where_;
  object_info info_;
  io::interrupt_check interrupt_;
  std::vector<std::byte> window_;
  std::int64_t window_at_ = 0;
  std::size_t window_len_ = 0;
  int gets_ = 0;
  std::int64_t largest_body_ = 0;
};

/// Opens `path` ("bucket/key") under `policy`: errc::protocol_not_allowed when the policy does not
/// list it, errc::input_unreadable when there is no such object.
result<std::unique_ptr<s3_source>> open_s3_source(std::shared_ptr<s3_client> client, std::string_view path,
                                                  const input_policy& policy, const io::interrupt_check& interrupt);

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::aws
