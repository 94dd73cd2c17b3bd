#include <spool/queue/registry.hpp>

#include <boost/url/parse.hpp>

#include <algorithm>
#include <cctype>
#include <map>
#include <mutex>

namespace spool::queue {
namespace {

struct registry {
  std::mutex mutex;
  std::map<std::string, adapter_factory> factories;
};

registry& instance() {
  static registry r;
  static std::once_flag builtins;
  std::call_once(builtins, [] {
    // The built-in schemes, through the same table integrators add to.
    r.factories["mem"] = [](std::string_view uri, std::shared_ptr<queue_adapter>& out, std::string& detail) {
      auto u = boost::urls::parse_uri(uri);
      std::string name = u ? std::string(u->encoded_host()) + std::string(u->encoded_path()) : "";
      if (name.empty()) {
        detail = "mem:// needs a name, as in mem://jobs";
        return make_error_code(errc::invalid_spec);
      }
      out = make_memory_queue(name);
      return error_code{};
    };
    r.factories["file"] = [](std::string_view uri, std::shared_ptr<queue_adapter>& out, std::string& detail) {
      auto u = boost::urls::parse_uri(uri);
      if (!u || !(u->encoded_host().empty() || u->encoded_host() == "localhost") || u->path().empty() ||
          u->path().front() != '/') {
        detail = "file:// queues need an absolute path, as in file:///var/spool/jobs.db";
        return make_error_code(errc::invalid_spec);
      }
      return make_file_queue(std::string(u->path()), out, &detail);
    };
  });
  return r;
}

bool valid_scheme(const std::string& s) {
  return !s.empty() && std::isalpha(static_cast<unsigned char>(s[0])) && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.';
  });
}

}  // namespace

error_code register_scheme(const std::string& scheme, adapter_factory factory) {
  if (!valid_scheme(scheme) || !factory) return errc::invalid_argument;
  std::string lower = scheme;  // open() matches schemes case-insensitively
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  auto& r = instance();
  std::lock_guard lock(r.mutex);
  if (!r.factories.emplace(std::move(lower), std::move(factory)).second) return errc::already_registered;
  return {};
}

error_code open(std::string_view uri, std::shared_ptr<queue_adapter>& out, std::string* detail) {
  auto colon = uri.find("://");
  std::string scheme(uri.substr(0, colon == std::string_view::npos ? 0 : colon));
  std::transform(scheme.begin(), scheme.end(), scheme.begin(), [](unsigned char c) { return std::tolower(c); });
  adapter_factory factory;
  {
    auto& r = instance();
    std::lock_guard lock(r.mutex);
    auto it = r.factories.find(scheme);
    if (it != r.factories.end()) factory = it->second;
  }
  if (!factory) {
    if (detail)
      *detail = "no queue backend for '" + std::string(uri) + "' (known: mem://, file://, and registered schemes)";
    return errc::invalid_spec;
  }
  std::string why;
  auto ec = factory(uri, out, why);
  if (ec && detail) *detail = why;
  return ec;
}

}  // namespace spool::queue
