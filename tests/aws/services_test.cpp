// The emulator fixtures: each service answers on 127.0.0.1, and once its object is gone so are its
// process (and whatever that started) and its port. The child-process plumbing under them stops what
// it started even when the child ignores SIGTERM or never gets ready.
#include "support/services.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <fstream>
#include <string>
#include <thread>

#include "support/child_process.hpp"
#include "support/loopback_http.hpp"

namespace aws = spool::test::aws;
namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

pid_t read_pid(const std::filesystem::path& file) {
  std::ifstream in(file);
  pid_t pid = -1;
  in >> pid;
  return pid;
}

json::value parse_json(const aws::command_result& r) {
  INFO("stdout: " << r.out << "\nstderr: " << r.err);
  REQUIRE(r.exit_status == 0);
  return json::parse(r.out);
}

// A process outside the child's own (a grandchild) dies when the kill reaches it, a moment after.
bool gone_within(pid_t pid, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (aws::process_alive(pid)) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

bool has_bucket(const json::value& list, const std::string& name) {
  for (const auto& b : list.at("Buckets").as_array())
    if (b.at("Name").as_string() == name) return true;
  return false;
}

}  // namespace

TEST_CASE("fauxqs answers on loopback and is gone with its port once stopped", "[aws][services]") {
  pid_t pid = -1;
  std::uint16_t port = 0;
  {
    const auto fauxqs = aws::fauxqs_service::start();
    pid = fauxqs.process.pid();
    port = fauxqs.process.port();
    CHECK(fauxqs.endpoint == "http://127.0.0.1:" + std::to_string(port));
    aws::loopback_request health;
    health.target = "/health";
    CHECK(aws::loopback_http(port, health).status == 200);

    // An SQS queue made through the AWS CLI (JSON protocol) is listed back by fauxqs.
    const auto created =
        parse_json(aws::aws_cli(fauxqs.endpoint, {"sqs", "create-queue", "--queue-name", "spool-svc"}));
    const std::string url(created.at("QueueUrl").as_string());
    CHECK(url.ends_with("/spool-svc"));
    const auto listed = parse_json(aws::aws_cli(fauxqs.endpoint, {"sqs", "list-queues"}));
    REQUIRE(listed.at("QueueUrls").as_array().size() == 1);
    CHECK(listed.at("QueueUrls").as_array()[0].as_string() == url);
    CHECK(aws::process_alive(pid));
  }
  CHECK_FALSE(aws::process_alive(pid));
  CHECK_FALSE(aws::port_open(port));
}

TEST_CASE("s3rver verifies signatures and leaves neither process nor data behind", "[aws][services]") {
  pid_t pid = -1;
  std::uint16_t port = 0;
  std::filesystem::path data;
  {
    const auto s3 = aws::s3rver_service::start();
    pid = s3.process.pid();
    port = s3.process.port();
    data = s3.data.path();
    aws::aws_cli_options good;
    good.access_key = s3.access_key;
    good.secret_key = s3.secret_key;
    const auto made = aws::aws_cli(s3.endpoint, {"s3api", "create-bucket", "--bucket", "spool-svc"}, good);
    INFO(made.err);
    REQUIRE(made.exit_status == 0);
    CHECK(has_bucket(parse_json(aws::aws_cli(s3.endpoint, {"s3api", "list-buckets"}, good)), "spool-svc"));
    CHECK(std::filesystem::exists(data));

    aws::aws_cli_options wrong = good;
    wrong.secret_key = "not-the-secret";
    const auto refused = aws::aws_cli(s3.endpoint, {"s3api", "list-buckets"}, wrong);
    CHECK(refused.exit_status != 0);
    CHECK_THAT(refused.err, Catch::Contains("SignatureDoesNotMatch"));
  }
  CHECK_FALSE(aws::process_alive(pid));
  CHECK_FALSE(aws::port_open(port));
  CHECK_FALSE(std::filesystem::exists(data));
}

TEST_CASE("moto answers STS on loopback and is gone once stopped", "[aws][services][moto]") {
  pid_t pid = -1;
  std::uint16_t port = 0;
  {
    auto moto = aws::start_moto_or_skip();
    if (!moto) return;
    pid = moto->process.pid();
    port = moto->process.port();
    const auto who = parse_json(aws::aws_cli(moto->endpoint, {"sts", "get-caller-identity"}));
    CHECK(who.at("Account").as_string() == aws::moto_service::account_id);
  }
  CHECK_FALSE(aws::process_alive(pid));
  CHECK_FALSE(aws::port_open(port));
}

TEST_CASE("missing npm tools fail and name the installer", "[aws][services]") {
  const aws::temp_directory empty("spool-no-tools-");
  CHECK_THROWS_WITH(aws::fauxqs_service::start(empty.path()), Catch::Contains("scripts/install-aws-tools.sh"));
  CHECK_THROWS_WITH(aws::s3rver_service::start(empty.path()), Catch::Contains("scripts/install-aws-tools.sh"));
}

TEST_CASE("child processes are stopped with everything they started", "[aws][services]") {
  const aws::temp_directory dir("spool-child-");
  const auto pid_file = (dir.path() / "pid").string();

  SECTION("SIGTERM stops the group, a wrapper's child included") {
    pid_t leader = -1, grandchild = -1;
    {
      const auto child = aws::child_process::start(
          {"sh", "-c", "sleep 60 & echo $! > " + pid_file + "; echo READY 4242; wait"}, aws::readiness::ready_line());
      CHECK(child.port() == 4242);
      leader = child.pid();
      grandchild = read_pid(pid_file);
      CHECK(aws::process_alive(leader));
      CHECK(aws::process_alive(grandchild));
    }
    CHECK_FALSE(aws::process_alive(leader));
    CHECK(gone_within(grandchild, 2s));
  }

  SECTION("a group that ignores SIGTERM is killed after the grace period") {
    auto child = aws::child_process::start(
        {"sh", "-c", "trap '' TERM; sleep 60 & echo $! > " + pid_file + "; echo READY 1; wait"},
        aws::readiness::ready_line());
    const pid_t leader = child.pid(), grandchild = read_pid(pid_file);
    child.stop(200ms);
    CHECK_FALSE(aws::process_alive(leader));
    CHECK(gone_within(grandchild, 2s));
    child.stop();  // again: nothing to do
  }

  SECTION("a child that exits before it is ready is reported with its output") {
    CHECK_THROWS_WITH(
        aws::child_process::start({"sh", "-c", "echo starting; echo no config here >&2; exit 3"},
                                  aws::readiness::ready_line()),
        Catch::Contains("exited with status 3") && Catch::Contains("no config here") && Catch::Contains("starting"));
  }

  SECTION("a child that never gets ready is stopped after the timeout") {
    CHECK_THROWS_WITH(aws::child_process::start({"sh", "-c", "echo $$ > " + pid_file + "; exec sleep 60"},
                                                aws::readiness::ready_line(), 300ms),
                      Catch::Contains("was not ready within 300 ms"));
    CHECK(gone_within(read_pid(pid_file), 2s));
  }

  SECTION("a server that never listens on its port is stopped after the timeout") {
    const std::uint16_t port = aws::free_loopback_port();
    CHECK_THROWS_WITH(aws::child_process::start({"sh", "-c", "echo $$ > " + pid_file + "; exec sleep 60"},
                                                aws::readiness::listening_on(port), 300ms),
                      Catch::Contains("was not ready within"));
    CHECK(gone_within(read_pid(pid_file), 2s));
  }

  SECTION("a command's output, status and environment; a command that overstays is killed") {
    aws::child_environment env;
    env.set = {{"SPOOL_SVC_TEST", "set"}};
    env.remove_prefixes = {"HOME"};
    const auto r = aws::run_command({"sh", "-c", "echo out:$SPOOL_SVC_TEST:${HOME:-none}; echo err >&2; exit 7"}, env);
    CHECK(r.exit_status == 7);
    CHECK(r.out == "out:set:none\n");
    CHECK(r.err == "err\n");

    CHECK_THROWS_WITH(aws::run_command({"sh", "-c", "echo $$ > " + pid_file + "; exec sleep 60"}, {}, 300ms),
                      Catch::Contains("did not finish within 300 ms"));
    CHECK(gone_within(read_pid(pid_file), 2s));
  }
}
