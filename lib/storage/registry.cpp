#include <spool/storage/store.hpp>

#include <algorithm>
#include <cctype>
#include <map>
#include <mutex>

#include "storage/https_source.hpp"
#include "storage/registry_detail.hpp"

namespace spool::inline SPOOL_ABI_NAMESPACE::storage {
namespace {

error unsupported(const char* what) {
  return error(errc::feature_unsupported, std::string("this storage backend cannot ") + what);
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// RFC 3986: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
bool valid_scheme(std::string_view s) {
  if (s.empty() || !std::isalpha(static_cast<unsigned char>(s[0]))) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.';
  });
}

struct registry {
  std::mutex mutex;
  std::map<std::string, store_factory> factories;
};

registry& the_registry() {
  static registry r;
  return r;
}

// The built-ins go through the same public call as a third party's, on first use (a
// self-registering object in a static library can be left out by the linker).
void register_builtins() {
  static std::once_flag once;
  std::call_once(once, [] {
    register_scheme("file", detail::make_local);
    register_scheme("https", detail::make_https);
  });
}

}  // namespace

result<std::unique_ptr<io::package_sink>> store::open_package(std::string_view, const package_options&) {
  return unsupported("write packages");
}
result<std::unique_ptr<io::status_sink>> store::open_status(std::string_view) { return unsupported("keep a status"); }
result<std::optional<std::string>> store::read_file(std::string_view) { return unsupported("read files back"); }
result<std::optional<std::vector<std::string>>> store::list(std::string_view) { return unsupported("list folders"); }
error store::remove_all(std::string_view) { return unsupported("remove folders"); }
result<std::string> store::presign(std::string_view, std::string_view, std::chrono::seconds) {
  return unsupported("presign URLs");
}

error register_scheme(std::string_view scheme, store_factory factory) {
  if (!valid_scheme(scheme)) return error(errc::invalid_argument, "'" + std::string(scheme) + "' is not a URI scheme");
  if (!factory) return error(errc::invalid_argument, "no factory given for the scheme '" + std::string(scheme) + "'");
  auto& r = the_registry();
  std::lock_guard lock(r.mutex);
  auto [it, inserted] = r.factories.emplace(lower(scheme), std::move(factory));
  if (!inserted) return error(errc::already_registered, "the storage scheme '" + std::string(scheme) + "' is taken");
  return {};
}

result<location> resolve(std::string_view uri) {
  register_builtins();
  if (uri.empty()) return error(errc::invalid_argument, "no location given");
  std::string scheme = "file";  // a path without a scheme is a local path
  auto colon = uri.find("://");
  if (colon != std::string_view::npos && valid_scheme(uri.substr(0, colon))) scheme = lower(uri.substr(0, colon));
  store_factory factory;
  {
    auto& r = the_registry();
    std::lock_guard lock(r.mutex);
    auto it = r.factories.find(scheme);
    if (it == r.factories.end())
      return error(errc::protocol_not_allowed,
                   "no storage is registered for '" + scheme + "://' (" + redact_url(uri) + ")");
    factory = it->second;
  }
  return factory(uri);
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::storage
