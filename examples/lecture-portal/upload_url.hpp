#pragma once
// One-time upload URLs for local storage: /uploads/ID?expires=UNIX&sig=HEX, where sig is
// HMAC-SHA256 over "PUT", the id and the expiry with a key kept in DIR/portal.key (made on first
// start, readable by the portal's user only). Whoever holds the URL may PUT that one upload until it
// expires; changing any part of it breaks the signature. That it is used once is the catalog's
// business (the record leaves `uploading`).
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace portal {

enum class url_check { ok, expired, bad_signature };

class upload_signer {
 public:
  /// Reads the key at `key_file`, or makes one there.
  explicit upload_signer(const std::filesystem::path& key_file);

  /// "/uploads/ID?expires=...&sig=..."
  std::string path_for(std::string_view id, std::int64_t expires) const;
  url_check check(std::string_view id, std::string_view expires, std::string_view sig, std::int64_t now) const;

 private:
  std::string sign(std::string_view id, std::int64_t expires) const;
  std::string key_;
};

}  // namespace portal
