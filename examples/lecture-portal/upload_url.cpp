#include "upload_url.hpp"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace portal {

namespace {

constexpr std::size_t key_bytes = 32;

std::string hex(const unsigned char* p, std::size_t n) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (std::size_t i = 0; i < n; ++i) {
    out += digits[p[i] >> 4];
    out += digits[p[i] & 15];
  }
  return out;
}

}  // namespace

upload_signer::upload_signer(const std::filesystem::path& key_file) {
  std::ifstream in(key_file, std::ios::binary);
  if (in) {
    std::stringstream text;
    text << in.rdbuf();
    key_ = text.str();
    if (key_.size() == key_bytes) return;
    throw std::runtime_error(key_file.string() + " is not a portal key (32 bytes)");
  }
  unsigned char fresh[key_bytes];
  if (RAND_bytes(fresh, sizeof fresh) != 1) throw std::runtime_error("no random bytes for the portal key");
  // O_EXCL: two portals starting on one folder agree on the key the first one wrote.
  const int fd = ::open(key_file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error("cannot create " + key_file.string());
  const bool written = ::write(fd, fresh, sizeof fresh) == static_cast<ssize_t>(sizeof fresh) && ::fsync(fd) == 0;
  ::close(fd);
  if (!written) throw std::runtime_error("cannot write " + key_file.string());
  key_.assign(reinterpret_cast<const char*>(fresh), sizeof fresh);
}

std::string upload_signer::sign(std::string_view id, std::int64_t expires) const {
  const std::string message = "PUT\n" + std::string(id) + "\n" + std::to_string(expires);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()), reinterpret_cast<const unsigned char*>(message.data()),
       message.size(), mac, &len);
  return hex(mac, len);
}

std::string upload_signer::path_for(std::string_view id, std::int64_t expires) const {
  return "/uploads/" + std::string(id) + "?expires=" + std::to_string(expires) + "&sig=" + sign(id, expires);
}

url_check upload_signer::check(std::string_view id, std::string_view expires, std::string_view sig,
                               std::int64_t now) const {
  std::int64_t when = 0;
  const auto [end, ec] = std::from_chars(expires.data(), expires.data() + expires.size(), when);
  if (ec != std::errc() || end != expires.data() + expires.size()) return url_check::bad_signature;
  const std::string expected = sign(id, when);
  if (sig.size() != expected.size() || CRYPTO_memcmp(sig.data(), expected.data(), expected.size()) != 0)
    return url_check::bad_signature;
  return now > when ? url_check::expired : url_check::ok;
}

}  // namespace portal
