#include "support/services.hpp"

#include <catch2/catch.hpp>

#include <mutex>
#include <stdexcept>

namespace spool::inline SPOOL_ABI_NAMESPACE::test::aws {

namespace {

const char* const installer = "scripts/install-aws-tools.sh";

std::filesystem::path serve_script() {
  return std::filesystem::path(SPOOL_SOURCE_DIR) / "tests" / "aws" / "tools" / "serve.mjs";
}

std::string loopback_url(std::uint16_t port) { return "http://127.0.0.1:" + std::to_string(port); }

child_process start_node_service(const std::filesystem::path& tools, const std::vector<std::string>& args) {
  std::vector<std::string> argv{"node", serve_script().string(), tools.string()};
  argv.insert(argv.end(), args.begin(), args.end());
  try {
    return child_process::start(argv, readiness::ready_line());
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string(e.what()) + "\n(are the aws test tools installed? run " + installer + " " +
                             tools.string() + ")");
  }
}

}  // namespace

std::filesystem::path tools_dir() { return SPOOL_AWS_TOOLS_DIR; }

void require_tool(const std::filesystem::path& tools, const std::string& package) {
  if (!std::filesystem::exists(tools / "node_modules" / package / "package.json"))
    throw std::runtime_error(package + " is not installed in " + tools.string() + ": run " + installer + " " +
                             tools.string() + " (make test does)");
}

fauxqs_service fauxqs_service::start(const std::filesystem::path& tools) {
  require_tool(tools, "fauxqs");
  child_process p = start_node_service(tools, {"fauxqs", "0"});
  const std::uint16_t port = p.port();
  return fauxqs_service{std::move(p), loopback_url(port)};
}

s3rver_service s3rver_service::start(const std::filesystem::path& tools) {
  require_tool(tools, "@20minutes/s3rver");
  temp_directory data("spool-s3rver-");
  child_process p = start_node_service(tools, {"s3rver", "0", data.path().string()});
  const std::uint16_t port = p.port();
  return s3rver_service{std::move(data), std::move(p), loopback_url(port)};
}

std::optional<std::string> moto_service::unavailable() {
  static std::once_flag once;
  static std::optional<std::string> why;
  std::call_once(once, [] {
    try {
      const command_result r = run_command({"python3", "-c", "import moto"}, {}, std::chrono::seconds(60));
      if (r.exit_status != 0) {
        std::string err = r.err;
        while (!err.empty() && err.back() == '\n') err.pop_back();
        const auto last = err.rfind('\n');
        why = "python3 -c 'import moto': " + (last == std::string::npos ? err : err.substr(last + 1));
      }
    } catch (const std::exception& e) {
      why = e.what();
    }
  });
  return why;
}

std::optional<moto_service> moto_service::start() {
  if (unavailable()) return std::nullopt;
  // moto cannot pick its own port and say which: take a free one, and another if it was taken meanwhile.
  for (int attempt = 1;; ++attempt) {
    const std::uint16_t port = free_loopback_port();
    try {
      child_process p =
          child_process::start({"python3", "-m", "moto.server", "-H", "127.0.0.1", "-p", std::to_string(port)},
                               readiness::listening_on(port));
      return moto_service{std::move(p), loopback_url(port)};
    } catch (const std::exception&) {
      if (attempt == 3) throw;
    }
  }
}

std::optional<moto_service> start_moto_or_skip() {
  if (auto why = moto_service::unavailable()) {
    WARN("SKIP: moto is not installed (" << *why << ")");
    return std::nullopt;
  }
  return moto_service::start();
}

command_result aws_cli(const std::string& endpoint, const std::vector<std::string>& args,
                       const aws_cli_options& options) {
  std::vector<std::string> argv{"aws", "--endpoint-url", endpoint, "--region", options.region, "--output", "json"};
  argv.insert(argv.end(), args.begin(), args.end());
  child_environment env;
  env.remove_prefixes = {"AWS_"};
  env.set = {{"AWS_ACCESS_KEY_ID", options.access_key}, {"AWS_SECRET_ACCESS_KEY", options.secret_key},
             {"AWS_CONFIG_FILE", "/dev/null"},          {"AWS_SHARED_CREDENTIALS_FILE", "/dev/null"},
             {"AWS_EC2_METADATA_DISABLED", "true"},     {"AWS_PAGER", ""}};
  if (!options.session_token.empty()) env.set.emplace_back("AWS_SESSION_TOKEN", options.session_token);
  env.set.insert(env.set.end(), options.extra_env.begin(), options.extra_env.end());
  return run_command(argv, env, options.timeout);
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::test::aws
