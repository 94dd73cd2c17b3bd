// Least privilege, proven: docs/aws/iam-web-backend.json and iam-worker.json, attached unchanged to
// one moto IAM user each, with moto enforcing signatures and IAM policies; every row of the table is
// a request sent through spool's own service client with that role's keys. An allowed row must
// succeed; a denied one must come back as an AccessDenied answer that aws::to_error maps to
// errc::access_denied, its message free of the secret key.
//
// Not in the table, because moto 5.2.1 cannot decide them as AWS does (docs/aws.md says so too):
// - sqs:GetQueueUrl: moto authorises it against "*" (it finds no queue in the request), so no
//   queue-scoped grant passes it.
// - the SQS batch calls (SendMessageBatch, ChangeMessageVisibilityBatch, DeleteMessageBatch): AWS
//   authorises them as sqs:SendMessage and so on, moto as actions of their own.
// - s3:ListBucket: moto ignores the s3:prefix condition, and a ListObjectsV2 whose prefix holds a
//   '/' fails moto's signature check (it signs the decoded query); only the web backend's refusal,
//   which needs no condition, is checked.
#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <fstream>
#include <functional>
#include <sstream>

#include "support/moto_iam.hpp"
#include "support/services.hpp"

using namespace spool;
namespace aws = spool::aws;

namespace {

constexpr const char* bucket = "spool-media";

// Whether `r` holds a value; its error goes into the failure's message otherwise.
template <class T>
bool ok(const result<T>& r) {
  if (!r) UNSCOPED_INFO("error: " << r.error().what());
  return r.has_value();
}

std::string read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string policy_file(const char* name) { return read_text(std::string(SPOOL_SOURCE_DIR) + "/docs/aws/" + name); }

// The value of a JSON answer's string member, or empty.
std::string json_string(const std::string& body, std::initializer_list<std::string_view> path) {
  boost::system::error_code ec;
  auto v = boost::json::parse(body, ec);
  if (ec) return {};
  const boost::json::value* at = &v;
  for (auto key : path) {
    if (at->is_array()) {
      if (at->as_array().empty()) return {};
      at = &at->as_array().front();
    }
    if (!at->is_object()) return {};
    at = at->as_object().if_contains(key);
    if (!at) return {};
  }
  return at->is_string() ? std::string(at->as_string()) : std::string();
}

enum class expect { allow, deny };

struct context {
  std::string jobs;  ///< QueueUrl
  std::string dlq;
  std::string receipt;    ///< of the job the worker received
  std::string upload_id;  ///< of the multipart upload being tried
};

struct role_clients {
  aws::credentials keys;
  aws::service_client sqs;
  aws::service_client s3;
  role_clients(const std::string& endpoint, const aws::credentials& k)
      : keys(k), sqs(test::moto_client(endpoint, "sqs", k)), s3(test::moto_client(endpoint, "s3", k)) {}
};

using call = std::function<result<aws::http_response>(role_clients&, context&)>;

struct row {
  const char* role;  ///< "web" or "worker"
  const char* what;  ///< an action and a resource
  expect e;
  call send;
  std::function<void(const aws::http_response&, context&)> after = {};
};

call sqs(const char* action, std::function<std::string(const context&)> body) {
  return
      [action, body = std::move(body)](role_clients& c, context& x) { return test::sqs_call(c.sqs, action, body(x)); };
}

call s3(const char* method, std::function<std::string(const context&)> path, std::string body = {}) {
  return [method, path = std::move(path), body = std::move(body)](role_clients& c, context& x) {
    return test::s3_call(c.s3, method, path(x), body);
  };
}

std::function<std::string(const context&)> key(std::string k) {
  return [p = std::string("/") + bucket + "/" + std::move(k)](const context&) { return p; };
}

std::string on(const std::string& url, const std::string& rest = {}) {
  return R"({"QueueUrl":")" + url + "\"" + rest + "}";
}

std::vector<row> matrix() {
  auto jobs = [](std::string rest) { return [rest](const context& x) { return on(x.jobs, rest); }; };
  auto dlq = [](std::string rest) { return [rest](const context& x) { return on(x.dlq, rest); }; };
  const std::string receive = R"(,"MaxNumberOfMessages":1,"WaitTimeSeconds":0,"VisibilityTimeout":30)";
  const std::string stale = R"(,"ReceiptHandle":"not-a-handle")";
  auto multipart_start = [](const aws::http_response& r, context& x) {
    x.upload_id = test::xml_value(r.body, "UploadId");
  };
  auto multipart_abort = [](std::string k) {
    return [k](const context& x) {
      return std::string("/") + bucket + "/" + k + "?uploadId=" + aws::sigv4::uri_encode(x.upload_id, false);
    };
  };
  return {
      // The web backend: submits jobs, takes uploads under uploads/, reads packages under outputs/.
      {"web", "sqs:SendMessage on the jobs queue", expect::allow,
       sqs("SendMessage", jobs(R"(,"MessageBody":"job-1")"))},
      {"web", "sqs:GetQueueAttributes on the jobs queue", expect::allow,
       sqs("GetQueueAttributes", jobs(R"(,"AttributeNames":["All"])"))},
      {"web", "sqs:ReceiveMessage on the jobs queue", expect::deny, sqs("ReceiveMessage", jobs(receive))},
      {"web", "sqs:DeleteMessage on the jobs queue", expect::deny, sqs("DeleteMessage", jobs(stale))},
      {"web", "sqs:ChangeMessageVisibility on the jobs queue", expect::deny,
       sqs("ChangeMessageVisibility", jobs(stale + R"(,"VisibilityTimeout":0)"))},
      {"web", "sqs:PurgeQueue on the jobs queue", expect::deny, sqs("PurgeQueue", jobs(""))},
      {"web", "sqs:GetQueueAttributes on the dead-letter queue (opening the queue reads it)", expect::allow,
       sqs("GetQueueAttributes", dlq(R"(,"AttributeNames":["All"])"))},
      {"web", "sqs:SendMessage on the dead-letter queue", expect::deny,
       sqs("SendMessage", dlq(R"(,"MessageBody":"job-x")"))},
      {"web", "sqs:ReceiveMessage on the dead-letter queue", expect::deny, sqs("ReceiveMessage", dlq(receive))},
      {"web", "s3:PutObject uploads/lecture-2.mp4 (what a presigned PUT does)", expect::allow,
       s3("PUT", key("uploads/lecture-2.mp4"), "upload bytes")},
      {"web", "s3:PutObject (CreateMultipartUpload) uploads/big.mp4", expect::allow,
       s3("POST", key("uploads/big.mp4?uploads")), multipart_start},
      {"web", "s3:AbortMultipartUpload uploads/big.mp4", expect::allow,
       s3("DELETE", multipart_abort("uploads/big.mp4"))},
      {"web", "s3:GetObject outputs/job-1/result.json", expect::allow, s3("GET", key("outputs/job-1/result.json"))},
      {"web", "s3:GetObject uploads/lecture.mp4", expect::deny, s3("GET", key("uploads/lecture.mp4"))},
      {"web", "s3:PutObject outputs/job-1/master.m3u8", expect::deny,
       s3("PUT", key("outputs/job-1/master.m3u8"), "#EXTM3U")},
      {"web", "s3:DeleteObject uploads/lecture.mp4", expect::deny, s3("DELETE", key("uploads/lecture.mp4"))},
      {"web", "s3:DeleteObject outputs/job-1/result.json", expect::deny,
       s3("DELETE", key("outputs/job-1/result.json"))},
      {"web", "s3:ListBucket", expect::deny, s3("GET", key("?list-type=2"))},
      {"web", "s3:PutObject elsewhere/x.mp4", expect::deny, s3("PUT", key("elsewhere/x.mp4"), "x")},

      // The worker: leases jobs, dead-letters them, reads uploads/, writes and cleans up outputs/.
      {"worker", "sqs:ReceiveMessage on the jobs queue", expect::allow, sqs("ReceiveMessage", jobs(receive)),
       [](const aws::http_response& r, context& x) {
         x.receipt = json_string(r.body, {"Messages", "ReceiptHandle"});
       }},
      {"worker", "sqs:ChangeMessageVisibility on the jobs queue", expect::allow,
       sqs("ChangeMessageVisibility",
           [](const context& x) {
             return on(x.jobs, R"(,"ReceiptHandle":")" + x.receipt + R"(","VisibilityTimeout":60)");
           })},
      {"worker", "sqs:GetQueueAttributes on the jobs queue", expect::allow,
       sqs("GetQueueAttributes", jobs(R"(,"AttributeNames":["All"])"))},
      {"worker", "sqs:SendMessage on the dead-letter queue", expect::allow,
       sqs("SendMessage", dlq(R"(,"MessageBody":"job-1 failed for good")"))},
      {"worker", "sqs:DeleteMessage on the jobs queue", expect::allow,
       sqs("DeleteMessage", [](const context& x) { return on(x.jobs, R"(,"ReceiptHandle":")" + x.receipt + "\""); })},
      {"worker", "sqs:SendMessage on the jobs queue", expect::deny,
       sqs("SendMessage", jobs(R"(,"MessageBody":"job-2")"))},
      {"worker", "sqs:PurgeQueue on the jobs queue", expect::deny, sqs("PurgeQueue", jobs(""))},
      {"worker", "sqs:ReceiveMessage on the dead-letter queue", expect::deny, sqs("ReceiveMessage", dlq(receive))},
      {"worker", "sqs:DeleteMessage on the dead-letter queue", expect::deny, sqs("DeleteMessage", dlq(stale))},
      {"worker", "s3:GetObject uploads/lecture.mp4", expect::allow, s3("GET", key("uploads/lecture.mp4"))},
      {"worker", "s3:PutObject outputs/job-1/seg_00001.m4s", expect::allow,
       s3("PUT", key("outputs/job-1/seg_00001.m4s"), "segment")},
      {"worker", "s3:GetObject outputs/job-1/result.json", expect::allow, s3("GET", key("outputs/job-1/result.json"))},
      {"worker", "s3:DeleteObject outputs/job-1/seg_00001.m4s", expect::allow,
       s3("DELETE", key("outputs/job-1/seg_00001.m4s"))},
      {"worker", "s3:PutObject (CreateMultipartUpload) outputs/job-1/video.mp4", expect::allow,
       s3("POST", key("outputs/job-1/video.mp4?uploads")), multipart_start},
      {"worker", "s3:AbortMultipartUpload outputs/job-1/video.mp4", expect::allow,
       s3("DELETE", multipart_abort("outputs/job-1/video.mp4"))},
      {"worker", "s3:PutObject uploads/lecture.mp4", expect::deny, s3("PUT", key("uploads/lecture.mp4"), "x")},
      {"worker", "s3:DeleteObject uploads/lecture.mp4", expect::deny, s3("DELETE", key("uploads/lecture.mp4"))},
      {"worker", "s3:PutObject elsewhere/x.mp4", expect::deny, s3("PUT", key("elsewhere/x.mp4"), "x")},
      {"worker", "s3:GetObject elsewhere/secret.txt", expect::deny, s3("GET", key("elsewhere/secret.txt"))},
  };
}

}  // namespace

TEST_CASE("IAM: each role's keys can do what its policy in docs/aws allows, and are refused the rest",
          "[aws][moto][iam]") {
  auto moto = test::aws::start_moto_or_skip();
  if (!moto) return;

  // Set up with auth off: the users with the policy files unchanged, the queues, the bucket and the
  // objects the rows read.
  context x;
  auto admin = test::moto_client(moto->endpoint, "iam", {"AKIDADMIN", "admin-secret", {}, {}, "admin"});
  auto web_keys = test::create_user_with_policy(admin, "spool-web-backend", policy_file("iam-web-backend.json"));
  REQUIRE(ok(web_keys));
  auto worker_keys = test::create_user_with_policy(admin, "spool-worker", policy_file("iam-worker.json"));
  REQUIRE(ok(worker_keys));
  {
    auto sqs_admin = test::moto_client(moto->endpoint, "sqs", {"AKIDADMIN", "admin-secret", {}, {}, "admin"});
    auto jobs = test::create_queue(sqs_admin, "spool-jobs");
    auto dlq = test::create_queue(sqs_admin, "spool-jobs-dlq");
    REQUIRE(ok(jobs));
    REQUIRE(ok(dlq));
    x.jobs = *jobs;
    x.dlq = *dlq;
    auto s3_admin = test::moto_client(moto->endpoint, "s3", {"AKIDADMIN", "admin-secret", {}, {}, "admin"});
    for (auto [path, body] : {std::pair{"", ""},
                              {"/uploads/lecture.mp4", "video"},
                              {"/outputs/job-1/result.json", "{}"},
                              {"/elsewhere/secret.txt", "s"}}) {
      auto r = test::s3_call(s3_admin, "PUT", std::string("/") + bucket + path, body);
      REQUIRE(ok(r));
      REQUIRE(r->status == 200);
    }
  }
  REQUIRE_FALSE(test::enforce_moto_auth(moto->endpoint));

  role_clients web(moto->endpoint, *web_keys), worker(moto->endpoint, *worker_keys);
  for (auto& r : matrix()) {
    auto& c = std::string_view(r.role) == "web" ? web : worker;
    std::string label = std::string(r.role) + ": " + r.what;
    INFO(label);
    auto answer = r.send(c, x);
    REQUIRE(ok(answer));
    INFO("HTTP " << answer->status << ": " << answer->body.substr(0, 400));
    if (r.e == expect::allow) {
      CHECK(answer->status / 100 == 2);
      if (r.after) r.after(*answer, x);
    } else {
      auto e = aws::to_error(aws::parse_service_error(*answer), label);
      CHECK(e.code == errc::access_denied);
      CHECK(e.message.find(c.keys.secret_access_key) == std::string::npos);
    }
  }
  CHECK_FALSE(x.receipt.empty());  // the worker did receive the job the web backend sent

  // Enforcement is on: a wrong secret is refused as bad credentials, not evaluated as a policy.
  auto forged = *worker_keys;
  forged.secret_access_key = "not-the-secret";
  auto impostor = test::moto_client(moto->endpoint, "sqs", forged);
  auto answer = test::sqs_call(impostor, "GetQueueAttributes", on(x.jobs, R"(,"AttributeNames":["All"])"));
  REQUIRE(ok(answer));
  auto e = aws::to_error(aws::parse_service_error(*answer), "GetQueueAttributes with a wrong secret");
  CHECK(e.code == errc::no_credentials);
  CHECK(e.message.find("not-the-secret") == std::string::npos);
}
