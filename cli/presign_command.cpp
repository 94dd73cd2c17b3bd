// presign get|put: URLs that let their holder download or upload one S3 object without credentials.
#include <spool/aws/presign.hpp>

#include <boost/json/object.hpp>
#include <fmt/format.h>

#include <chrono>
#include <cstdint>

#include "args.hpp"
#include "report.hpp"

namespace spool::cli {
namespace {

constexpr const char* presign_note =
    R"(The region, the endpoint and the credentials come from the environment and the AWS config files, as
for the AWS CLI (AWS_REGION, AWS_ENDPOINT_URL_S3, AWS_PROFILE, ...). A URL lives at most 7 days, and no
longer than the credentials that sign it: spool warns on stderr when it will stop working sooner than
asked. A PUT of more than 5 GiB (--size) is a multipart upload: spool creates it and prints one URL per
part, the URL that completes it (POST the parts' ETags) and the URL that abandons it (DELETE).
)";

constexpr std::int64_t single_put_limit = 5LL << 30;

class presign_command final : public command {
 public:
  explicit presign_command(const char* method) : method_(method) {}

  po::options_description options() override {
    auto d = option_group("options");
    d.add_options()  //
        ("expires", seconds(expires_)->above(0), "how long the URL works, in seconds (at most 604800)");
    if (method_ == std::string_view("PUT"))
      d.add_options()                                                                                           //
          ("content-type", text(content_type_)->value_name("TYPE"), "the Content-Type the uploader must send")  //
          ("size", number(size_)->value_name("BYTES"), "the file's size: over 5 GiB, a multipart upload");
    return d;
  }

  int run(const std::vector<std::string>& operands) override {
    aws::presign_options o;
    o.method = method_;
    o.expires = expires_;
    o.content_type = content_type_;
    const auto size = static_cast<std::int64_t>(size_);
    if (size > single_put_limit) {
      auto up = aws::presign_multipart_upload({}, operands[0], size, o);
      if (!up) return report_error(up.error());
      for (const auto& w : up->warnings) fmt::print(stderr, "spool: warning: {}\n", w);
      boost::json::array parts;
      for (const auto& u : up->part_urls) parts.emplace_back(u);
      print_json(boost::json::object{{"method", "PUT"},
                                     {"upload_id", up->upload_id},
                                     {"part_size", up->plan.part_size},
                                     {"parts", std::move(parts)},
                                     {"complete_url", up->complete_url},
                                     {"abort_url", up->abort_url},
                                     {"expires_s", up->expires.count()}});
      return ok;
    }
    auto url = aws::presign({}, operands[0], o);
    if (!url) return report_error(url.error());
    for (const auto& w : url->warnings) fmt::print(stderr, "spool: warning: {}\n", w);
    boost::json::object headers;
    for (const auto& [name, value] : url->headers) headers[name] = value;
    print_json(boost::json::object{
        {"method", method_}, {"url", url->url}, {"expires_s", url->expires.count()}, {"headers", std::move(headers)}});
    return ok;
  }

 private:
  const char* method_;
  std::chrono::seconds expires_{3600};
  std::string content_type_;
  double size_ = 0;
};

std::unique_ptr<command> make_get() { return std::make_unique<presign_command>("GET"); }
std::unique_ptr<command> make_put() { return std::make_unique<presign_command>("PUT"); }

constexpr command_entry table[] = {
    {"presign get", "S3_URI", "Prints a presigned URL that downloads S3_URI (s3://bucket/key), as JSON.", presign_note,
     make_get},
    {"presign put", "S3_URI", "Prints a presigned URL (or, with --size over 5 GiB, a multipart upload) for S3_URI.",
     presign_note, make_put},
};

}  // namespace

std::span<const command_entry> presign_commands() { return table; }

}  // namespace spool::cli
