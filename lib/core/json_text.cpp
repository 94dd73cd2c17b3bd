#include <spool/json_text.hpp>

#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include <cmath>

namespace spool::inline SPOOL_ABI_NAMESPACE {
namespace {

void write(const boost::json::value& v, std::string& out) {
  switch (v.kind()) {
    case boost::json::kind::object: {
      out += '{';
      bool first = true;
      for (const auto& kv : v.get_object()) {
        if (!first) out += ',';
        first = false;
        out += boost::json::serialize(boost::json::string_view(kv.key()));
        out += ':';
        write(kv.value(), out);
      }
      out += '}';
      return;
    }
    case boost::json::kind::array: {
      out += '[';
      bool first = true;
      for (const auto& x : v.get_array()) {
        if (!first) out += ',';
        first = false;
        write(x, out);
      }
      out += ']';
      return;
    }
    case boost::json::kind::double_: {
      double d = v.get_double();
      // fmt's shortest form round-trips; a whole number prints without a fraction ("30").
      if (std::isfinite(d))
        out += fmt::format("{}", d);
      else
        out += "null";
      return;
    }
    default:  // strings (escaped), integers, booleans, null
      out += boost::json::serialize(v);
  }
}

}  // namespace

std::string to_json_text(const boost::json::value& v) {
  std::string out;
  write(v, out);
  return out;
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE
