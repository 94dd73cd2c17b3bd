#include <spool/queue/registry.hpp>

#include <algorithm>
#include <cctype>
#include <map>
#include <mutex>

#include "queue/builtin_schemes.hpp"

namespace spool::inline SPOOL_ABI_NAMESPACE::queue {
namespace {

struct registry {
  std::mutex mutex;
  std::map<std::string, adapter_factory, std::less<>> factories;
};

registry& table() {
  static registry r;
  return r;
}

// The built-in schemes go in on first use, through register_scheme like any other. The registering
// thread re-enters register_scheme, and must not wait for its own call_once.
thread_local bool registering_builtins = false;

void ensure_builtins() {
  static std::once_flag once;
  if (registering_builtins) return;
  std::call_once(once, [] {
    struct reset {
      ~reset() { registering_builtins = false; }
    } on_exit;
    registering_builtins = true;
    detail::register_memory_scheme();
    detail::register_file_scheme();
  });
}

bool valid_scheme(std::string_view s) {
  return !s.empty() && std::isalpha(static_cast<unsigned char>(s[0])) && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.';
  });
}

std::string lowercase(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

}  // namespace

error register_scheme(std::string_view scheme, adapter_factory factory) {
  if (!valid_scheme(scheme))
    return {errc::invalid_argument,
            "'" + std::string(scheme) + "' is not a URI scheme (a letter, then letters, digits, '+', '-' or '.')"};
  if (!factory) return {errc::invalid_argument, "the factory for " + std::string(scheme) + ":// is empty"};
  ensure_builtins();
  auto& r = table();
  std::lock_guard lock(r.mutex);
  if (!r.factories.emplace(lowercase(scheme), std::move(factory)).second)
    return {errc::already_registered, std::string(scheme) + ":// already has a queue backend"};
  return {};
}

result<std::shared_ptr<queue_adapter>> open_queue(std::string_view uri) {
  ensure_builtins();
  auto colon = uri.find("://");
  if (colon == std::string_view::npos)
    return error{errc::invalid_argument, "'" + std::string(uri) + "' is not a queue URI (scheme://...)"};
  const std::string scheme = lowercase(uri.substr(0, colon));
  adapter_factory factory;
  {
    auto& r = table();
    std::lock_guard lock(r.mutex);
    auto it = r.factories.find(scheme);
    if (it != r.factories.end()) factory = it->second;
  }
  if (!factory)
    return error{errc::invalid_argument,
                 "no queue backend for '" + std::string(uri) + "' (known: mem://, file://, and registered schemes)"};
  auto q = factory(uri);
  if (q && !*q) return error{errc::internal, "the factory for " + scheme + ":// returned no queue"};
  return q;
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::queue
