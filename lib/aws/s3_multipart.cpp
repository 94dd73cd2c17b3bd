// Multipart uploads.
#include "aws/s3_multipart.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace spool::inline SPOOL_ABI_NAMESPACE::aws {
namespace {

std::string part_query(std::string_view upload_id, int number) {
  return "partNumber=" + std::to_string(number) + "&uploadId=" + encode_query(upload_id);
}

// A file descriptor shared by the reader's callbacks, closed with the last of them.
struct fd_holder {
  int fd = -1;
  ~fd_holder() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

result<std::string> create_multipart(s3_client& c, std::string_view bucket, std::string_view key,
                                     const http_headers& headers) {
  http_request rq;
  rq.method = "POST";
  rq.url = c.url(bucket, key, "uploads=");
  rq.headers = headers;
  auto r = c.send(rq, "start a multipart upload of " + s3_name(bucket, key));
  if (!r) return r.error();
  auto id = xml_text(r->body, "UploadId");
  if (!id || id->empty()) return error(errc::network, "no UploadId in the answer for " + s3_name(bucket, key));
  return *std::move(id);
}

result<std::string> upload_part(s3_client& c, std::string_view bucket, std::string_view key, std::string_view upload_id,
                                int number, std::shared_ptr<body_reader> body) {
  http_request rq;
  rq.method = "PUT";
  rq.url = c.url(bucket, key, part_query(upload_id, number));
  rq.headers.push_back({"Content-Type", "application/octet-stream"});
  rq.stream = std::move(body);
  auto r = c.send(rq, "upload part " + std::to_string(number) + " of " + s3_name(bucket, key),
                  std::string(sigv4::unsigned_payload));
  if (!r) return r.error();
  auto etag = find_header(r->headers, "ETag");
  if (etag.empty()) return error(errc::network, "no ETag for a part of " + s3_name(bucket, key));
  return std::string(etag);
}

std::string complete_body(const std::vector<completed_part>& parts) {
  std::string xml = "<CompleteMultipartUpload>";
  for (const auto& p : parts)
    xml += "<Part><PartNumber>" + std::to_string(p.number) + "</PartNumber><ETag>" + p.etag + "</ETag></Part>";
  return xml + "</CompleteMultipartUpload>";
}

error complete_multipart(s3_client& c, std::string_view bucket, std::string_view key, std::string_view upload_id,
                         const std::vector<completed_part>& parts) {
  http_request rq;
  rq.method = "POST";
  rq.url = c.url(bucket, key, "uploadId=" + encode_query(upload_id));
  rq.headers.push_back({"Content-Type", "application/xml"});
  rq.body = complete_body(parts);
  const std::string what = "complete the upload of " + s3_name(bucket, key);
  auto r = c.send(rq, what);
  if (!r) return r.error();
  // S3 can answer 200 and still report a failure in the body.
  if (r->body.find("<Error>") != std::string::npos) {
    http_response as_error = *r;
    as_error.status = 500;
    return to_error(parse_service_error(as_error), what);
  }
  return {};
}

error abort_multipart(s3_client& c, std::string_view bucket, std::string_view key, std::string_view upload_id) {
  http_request rq;
  rq.method = "DELETE";
  rq.url = c.url(bucket, key, "uploadId=" + encode_query(upload_id));
  auto r = c.service().call(rq);
  if (!r) return r.error();
  if (r->status / 100 == 2 || r->status == 404) return {};
  return to_error(parse_service_error(*r), "abort the upload of " + s3_name(bucket, key));
}

result<std::shared_ptr<body_reader>> file_body(const std::filesystem::path& file, std::int64_t offset,
                                               std::int64_t length) {
  auto holder = std::make_shared<fd_holder>();
  holder->fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (holder->fd < 0)
    return error(errc::io_error, "cannot open " + file.string() + ": " + std::generic_category().message(errno));
  auto pos = std::make_shared<std::int64_t>(0);
  auto reader = std::make_shared<body_reader>();
  reader->length = length;
  reader->read = [holder, pos, offset, length, file](std::span<std::byte> buf) -> result<std::size_t> {
    auto left = length - *pos;
    if (left <= 0) return std::size_t{0};
    auto want = static_cast<std::size_t>(std::min<std::int64_t>(left, static_cast<std::int64_t>(buf.size())));
    for (;;) {
      ssize_t n = ::pread(holder->fd, buf.data(), want, offset + *pos);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0)
        return error(errc::io_error, "cannot read " + file.string() + ": " + std::generic_category().message(errno));
      if (n == 0) return error(errc::io_error, file.string() + " became shorter while it was uploaded");
      *pos += n;
      return static_cast<std::size_t>(n);
    }
  };
  reader->rewind = [pos]() -> error {
    *pos = 0;
    return {};
  };
  return reader;
}

error upload_file_in_parts(s3_client& c, std::string_view bucket, std::string_view key, const http_headers& headers,
                           const std::filesystem::path& file, std::int64_t part_size,
                           const std::function<void(const std::string&)>& started) {
  std::error_code ec;
  auto size = static_cast<std::int64_t>(std::filesystem::file_size(file, ec));
  if (ec) return error(errc::io_error, "cannot read the size of " + file.string() + ": " + ec.message());
  if (part_size <= 0) return error(errc::invalid_argument, "the part size must be positive");
  auto id = create_multipart(c, bucket, key, headers);
  if (!id) return id.error();
  if (started) started(*id);
  std::vector<completed_part> parts;
  auto fail = [&](error e) {
    (void)abort_multipart(c, bucket, key, *id);
    return e;
  };
  for (std::int64_t at = 0; at < size || parts.empty(); at += part_size) {
    auto body = file_body(file, at, std::min(part_size, size - at));
    if (!body) return fail(body.error());
    int number = static_cast<int>(parts.size()) + 1;
    auto etag = upload_part(c, bucket, key, *id, number, *std::move(body));
    if (!etag) return fail(etag.error());
    parts.push_back({number, *std::move(etag)});
  }
  if (auto e = complete_multipart(c, bucket, key, *id, parts)) return fail(e);
  return {};
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::aws
