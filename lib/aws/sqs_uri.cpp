// sqs:// URIs, and the scheme's registration.
#include "aws/sqs_uri.hpp"

#include <spool/queue/registry.hpp>

#include <boost/url/parse.hpp>

#include <algorithm>
#include <cctype>

#include "aws/schemes.hpp"

namespace spool::inline SPOOL_ABI_NAMESPACE::aws {
namespace {

bool all_of(std::string_view s, bool (*ok)(char)) { return !s.empty() && std::all_of(s.begin(), s.end(), ok); }

bool region_char(char c) {
  return std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '-';
}
bool digit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }
bool name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_'; }

bool queue_name(std::string_view n) {
  if (n.ends_with(".fifo")) n.remove_suffix(5);
  return n.size() <= 75 && all_of(n, name_char);
}

error bad(std::string_view uri, const std::string& why) {
  return {errc::invalid_argument,
          "'" + std::string(uri) + "' is not an SQS queue URI (sqs://REGION/ACCOUNT/QUEUE): " + why};
}

}  // namespace

result<sqs_options> parse_sqs_uri(std::string_view uri) {
  auto u = boost::urls::parse_uri(uri);
  if (!u) return bad(uri, "it does not parse as a URI");
  if (u->scheme() != "sqs") return bad(uri, "the scheme is not sqs");
  if (u->has_userinfo() || u->has_port()) return bad(uri, "it has a user or a port");
  sqs_options o;
  o.region = std::string(u->encoded_host());
  if (!all_of(o.region, region_char)) return bad(uri, "'" + o.region + "' is not a region (us-east-1)");
  std::vector<std::string> segs;
  for (auto s : u->segments()) segs.emplace_back(s);
  if (segs.size() != 2) return bad(uri, "the path is not /ACCOUNT/QUEUE");
  o.account_id = segs[0];
  o.queue_name = segs[1];
  if (!all_of(o.account_id, digit)) return bad(uri, "'" + o.account_id + "' is not an account id (12 digits)");
  if (!queue_name(o.queue_name))
    return bad(uri, "'" + o.queue_name + "' is not a queue name (up to 80 letters, digits, '-' and '_', or .fifo)");
  for (auto p : u->params()) {
    if (p.key == "dead_letter_queue" && queue_name(p.value)) {
      o.dead_letter_queue = p.value;
    } else if (p.key == "message_group_id" && !p.value.empty() && p.value.size() <= 128) {
      o.message_group_id = p.value;
    } else {
      return bad(uri, "the parameter '" + std::string(p.key) + "=" + std::string(p.value) +
                          "' is not dead_letter_queue=NAME or message_group_id=GROUP");
    }
  }
  return o;
}

void register_sqs_scheme() {
  // A second registration (the host called it twice) is not an error worth reporting.
  (void)queue::register_scheme("sqs", [](std::string_view uri) -> result<std::shared_ptr<queue::queue_adapter>> {
    auto options = parse_sqs_uri(uri);
    if (!options) return options.error();
    return make_sqs_queue(*options);
  });
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::aws
