// https:// inputs, read-only: spool's own reader under the input policy's access rules.
#include <spool/storage/store.hpp>

#include <new>

#include "storage/https_source.hpp"
#include "storage/registry_detail.hpp"

namespace spool::inline SPOOL_ABI_NAMESPACE::storage {
namespace {

class https_byte_source final : public io::byte_source {
 public:
  https_byte_source(std::unique_ptr<https_source> source, std::string name)
      : source_(std::move(source)), name_(std::move(name)) {}

  result<std::size_t> read_at(std::int64_t offset, std::span<std::byte> buffer) override {
    auto n = source_->read_at(offset, {reinterpret_cast<std::uint8_t*>(buffer.data()), buffer.size()});
    if (n < 0) return error(source_->error(), source_->detail());
    return static_cast<std::size_t>(n);
  }
  std::int64_t size() const noexcept override { return source_->size(); }
  bool seekable() const noexcept override { return source_->seekable(); }
  std::string name() const override { return name_; }
  void set_interrupt(io::interrupt_check check) override { source_->set_should_stop(std::move(check)); }

 private:
  std::unique_ptr<https_source> source_;
  std::string name_;
};

class https_store final : public store {
 public:
  explicit https_store(std::string url) : url_(std::move(url)) {}

  capabilities caps() const noexcept override { return {}; }  // read only

  result<std::unique_ptr<io::byte_source>> open_source(std::string_view, const source_options& o) override {
    https_settings settings;
    settings.allowed_hosts = o.policy.https_hosts;
    settings.allow_private_addresses = o.policy.https_allow_private_addresses;
    settings.ca_file = o.policy.https_ca_file;
    settings.max_redirects = o.policy.https_max_redirects;
    settings.should_stop = o.interrupt;
    try {
      auto source = std::make_unique<https_source>(url_, std::move(settings));
      if (!source->open()) return error(source->error(), source->detail());
      return std::unique_ptr<io::byte_source>(std::make_unique<https_byte_source>(std::move(source), redact_url(url_)));
    } catch (const std::bad_alloc&) {
      return error(errc::out_of_memory, "out of memory opening " + redact_url(url_));
    }
  }

 private:
  std::string url_;  ///< whole, query included: a presigned URL's credentials travel in it
};

}  // namespace

namespace detail {

// The backend is one URL: its path means nothing without the host and query that come with it.
result<location> make_https(std::string_view uri) {
  return location{std::make_shared<https_store>(std::string(uri)), std::string(uri)};
}

}  // namespace detail
}  // namespace spool::inline SPOOL_ABI_NAMESPACE::storage
