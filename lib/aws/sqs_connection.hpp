#pragma once
// Internal: one SQS endpoint reached through a signed, retrying service_client; every call is a JSON
// 1.0 action whose refusal becomes a spool error in SQS's terms.
#include <spool/aws/credentials.hpp>
#include <spool/error.hpp>
#include <spool/io.hpp>

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "aws/service_client.hpp"
#include "aws/sqs_protocol.hpp"

namespace spool::inline SPOOL_ABI_NAMESPACE::aws::sqs {

class connection {
 public:
  connection(service_options options, std::shared_ptr<credentials_provider> creds);

  /// Calls `action` with `body`; the answer's JSON, or the error in words naming `what` and `queue`.
  /// `takes_receipt`: an invalid or expired receipt is errc::lease_lost. `refusal`, when given, gets
  /// the service's own error when it refused the call.
  result<json::value> call(std::string_view action, const json::object& body, std::string_view what,
                           std::string_view queue, bool takes_receipt = false,
                           const io::interrupt_check& interrupt = {}, service_error* refusal = nullptr);

  /// GetQueueUrl: the URL exactly as SQS gives it.
  result<std::string> queue_url(const std::string& name, const std::string& account);
  /// GetQueueAttributes with AttributeNames ["All"] (or the names given).
  result<std::map<std::string, std::string>> attributes(const std::string& url,
                                                        const std::vector<std::string>& names = {"All"});

  const std::string& endpoint() const noexcept { return client_.options().endpoint; }
  const std::string& region() const noexcept { return client_.options().where.region; }

 private:
  service_client client_;
};

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::aws::sqs
