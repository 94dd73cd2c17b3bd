#include "support/moto_iam.hpp"

#include <boost/json.hpp>

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <thread>

namespace spool::inline SPOOL_ABI_NAMESPACE::test {
namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

// A port nothing listens on now (the server binds it a moment later).
int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  ::close(fd);
  return port;
}

// fork + execvp with stdin on /dev/null and stdout/stderr on the given descriptors (-1: /dev/null).
pid_t spawn(const std::vector<std::string>& argv, int out_fd, int err_fd) {
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid != 0) return pid;
  int null = ::open("/dev/null", O_RDWR);
  ::dup2(null, 0);
  ::dup2(out_fd >= 0 ? out_fd : null, 1);
  ::dup2(err_fd >= 0 ? err_fd : null, 2);
  ::execvp(args[0], args.data());
  ::_exit(127);
}

// SIGTERM, a grace, then SIGKILL; always reaps.
void stop(pid_t pid) {
  ::kill(pid, SIGTERM);
  auto deadline = steady::now() + 5s;
  int status = 0;
  while (steady::now() < deadline) {
    if (::waitpid(pid, &status, WNOHANG) == pid) return;
    std::this_thread::sleep_for(20ms);
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
}

// Always the same keys. (aws::static_credentials does this too; this keeps the tests independent
// of where the credentials chain stands.)
class fixed_credentials final : public aws::credentials_provider {
 public:
  explicit fixed_credentials(aws::credentials c) : c_(std::move(c)) {}
  result<aws::credentials> get() override { return c_; }
  std::string name() const override { return c_.source; }

 private:
  aws::credentials c_;
};

std::string form_encode(const std::string& s) { return aws::sigv4::uri_encode(s, false); }

result<std::string> iam_call(aws::service_client& iam, const std::string& form) {
  aws::http_request r;
  r.method = "POST";
  r.url = iam.options().endpoint + "/";
  r.headers.push_back({"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"});
  r.body = form + "&Version=2010-05-08";
  auto answer = iam.call(std::move(r));
  if (!answer) return answer.error();
  if (answer->status != 200) return aws::to_error(aws::parse_service_error(*answer), "IAM " + form.substr(0, 40));
  return std::move(answer->body);
}

}  // namespace

process_output run_process(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  process_output result;
  std::array<int, 2> out{-1, -1}, err{-1, -1};
  if (::pipe2(out.data(), O_CLOEXEC) != 0 || ::pipe2(err.data(), O_CLOEXEC) != 0) return result;
  pid_t pid = spawn(argv, out[1], err[1]);
  ::close(out[1]);
  ::close(err[1]);
  if (pid < 0) {
    ::close(out[0]);
    ::close(err[0]);
    return result;
  }
  auto deadline = steady::now() + timeout;
  std::array<pollfd, 2> fds{pollfd{out[0], POLLIN, 0}, pollfd{err[0], POLLIN, 0}};
  std::array<std::string*, 2> sinks{&result.out, &result.err};
  int open_fds = 2;
  while (open_fds > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now()).count();
    if (left <= 0) {
      result.timed_out = true;
      break;
    }
    if (::poll(fds.data(), fds.size(), static_cast<int>(left)) < 0 && errno != EINTR) break;
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      std::array<char, 4096> buf{};
      auto n = ::read(fds[i].fd, buf.data(), buf.size());
      if (n > 0) {
        sinks[i]->append(buf.data(), static_cast<std::size_t>(n));
      } else {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (auto& f : fds)
    if (f.fd >= 0) ::close(f.fd);
  if (result.timed_out) {
    stop(pid);
    return result;
  }
  int status = 0;
  // The pipes closed: the process is ending; reap it (stop() if it lingers past the deadline).
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (steady::now() >= deadline) {
      result.timed_out = true;
      stop(pid);
      return result;
    }
    std::this_thread::sleep_for(10ms);
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

std::string moto_unavailable() {
  auto r = run_process({"python3", "-c", "import moto, boto3"}, 60s);
  if (r.exit_code == 0) return {};
  std::string why = r.timed_out ? std::string("timed out") : r.err;
  if (auto nl = why.find_last_of('\n', why.size() >= 2 ? why.size() - 2 : 0); nl != std::string::npos)
    why = why.substr(nl + 1);
  while (!why.empty() && why.back() == '\n') why.pop_back();
  return "python3 -c 'import moto, boto3' failed: " + (why.empty() ? "no python3 on PATH" : why);
}

std::unique_ptr<moto_server> moto_server::start(std::string& why) {
  int port = free_port();
  if (port == 0) {
    why = "no free port on 127.0.0.1";
    return nullptr;
  }
  // python3 may be a pyenv shim: the shims exec the interpreter, so the pid stays the server's.
  pid_t pid = spawn({"python3", "-m", "moto.server", "-H", "127.0.0.1", "-p", std::to_string(port)}, -1, -1);
  if (pid < 0) {
    why = "fork failed";
    return nullptr;
  }
  std::unique_ptr<moto_server> server(new moto_server(pid, "http://127.0.0.1:" + std::to_string(port)));
  aws::http_options ho;
  ho.connect_timeout = 1s;
  ho.idle_timeout = 5s;
  aws::http_client http(ho);
  auto deadline = steady::now() + 20s;
  while (steady::now() < deadline) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      server->pid_ = -1;
      why = "moto.server exited at start";
      return nullptr;
    }
    aws::http_request r;
    r.url = server->endpoint_ + "/moto-api/data.json";
    if (auto answer = http.send(r); answer && answer->status == 200) return server;
    std::this_thread::sleep_for(100ms);
  }
  why = "moto.server did not answer within 20 s";
  return nullptr;  // the destructor stops it
}

moto_server::~moto_server() {
  if (pid_ > 0) stop(pid_);
}

error moto_server::enforce_auth() {
  aws::http_client http;
  aws::http_request r;
  r.method = "POST";
  r.url = endpoint_ + "/moto-api/reset-auth";
  r.headers.push_back({"Content-Type", "text/plain"});
  r.body = "0";
  auto answer = http.send(r);
  if (!answer) return answer.error();
  if (answer->status != 200) return {errc::internal, "moto reset-auth answered " + std::to_string(answer->status)};
  return {};
}

aws::service_client moto_client(const std::string& endpoint, const std::string& service, aws::credentials creds) {
  aws::service_options o;
  o.where = {"us-east-1", service};
  o.endpoint = endpoint;
  o.retry.max_attempts = 2;
  o.http.connect_timeout = 5s;
  o.http.idle_timeout = 15s;
  return aws::service_client(std::move(o), std::make_shared<fixed_credentials>(std::move(creds)));
}

result<aws::credentials> create_user_with_policy(aws::service_client& iam, const std::string& name,
                                                 const std::string& policy_json) {
  if (auto r = iam_call(iam, "Action=CreateUser&UserName=" + form_encode(name)); !r) return r.error();
  auto policy = iam_call(
      iam, "Action=CreatePolicy&PolicyName=" + form_encode(name) + "&PolicyDocument=" + form_encode(policy_json));
  if (!policy) return policy.error();
  auto arn = xml_value(*policy, "Arn");
  if (arn.empty()) return error{errc::internal, "CreatePolicy gave no Arn"};
  if (auto r =
          iam_call(iam, "Action=AttachUserPolicy&UserName=" + form_encode(name) + "&PolicyArn=" + form_encode(arn));
      !r)
    return r.error();
  auto key = iam_call(iam, "Action=CreateAccessKey&UserName=" + form_encode(name));
  if (!key) return key.error();
  aws::credentials c;
  c.access_key_id = xml_value(*key, "AccessKeyId");
  c.secret_access_key = xml_value(*key, "SecretAccessKey");
  c.source = "moto user " + name;
  if (c.access_key_id.empty() || c.secret_access_key.empty())
    return error{errc::internal, "CreateAccessKey gave no keys"};
  return c;
}

result<aws::http_response> sqs_call(aws::service_client& sqs, const std::string& action, const std::string& body) {
  aws::http_request r;
  r.method = "POST";
  r.url = sqs.options().endpoint + "/";
  r.headers.push_back({"Content-Type", "application/x-amz-json-1.0"});
  r.headers.push_back({"X-Amz-Target", "AmazonSQS." + action});
  r.body = body;
  return sqs.call(std::move(r));
}

result<std::string> create_queue(aws::service_client& sqs, const std::string& name) {
  auto answer = sqs_call(sqs, "CreateQueue", R"({"QueueName":")" + name + R"("})");
  if (!answer) return answer.error();
  if (answer->status != 200) return aws::to_error(aws::parse_service_error(*answer), "CreateQueue " + name);
  boost::system::error_code ec;
  auto v = boost::json::parse(answer->body, ec);
  const auto* url = !ec && v.is_object() ? v.as_object().if_contains("QueueUrl") : nullptr;
  if (!url || !url->is_string()) return error{errc::internal, "CreateQueue gave no QueueUrl"};
  return std::string(url->as_string());
}

result<aws::http_response> s3_call(aws::service_client& s3, const std::string& method, const std::string& path,
                                   const std::string& body) {
  aws::http_request r;
  r.method = method;
  r.url = s3.options().endpoint + path;
  r.body = body;
  if (method == "PUT" || method == "POST") r.headers.push_back({"Content-Type", "application/octet-stream"});
  return s3.call(std::move(r));
}

std::string xml_value(const std::string& xml, const std::string& tag) {
  auto b = xml.find("<" + tag + ">");
  if (b == std::string::npos) return {};
  b += tag.size() + 2;
  auto e = xml.find("</" + tag + ">", b);
  return e == std::string::npos ? std::string() : xml.substr(b, e - b);
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::test
