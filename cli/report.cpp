#include "report.hpp"

#include <spool/json_text.hpp>

#include <boost/json/object.hpp>
#include <fmt/format.h>

#include <csignal>
#include <cstdio>
#include <sstream>

namespace spool::cli {

int exit_code_for(category_kind kind) noexcept {
  switch (kind) {
    case category_kind::input:
    case category_kind::policy:
    case category_kind::unsupported: return refused;
    case category_kind::cancelled: return interrupted;
    case category_kind::usage: return usage_exit;
    default: return failed;
  }
}

namespace {

void print_error_line(std::string_view code, std::string_view category, const std::string& message) {
  boost::json::object e{{"code", code}, {"category", category}, {"message", message}};
  fmt::print(stderr, "{}\n", to_json_text(boost::json::object{{"error", std::move(e)}}));
}

constexpr std::size_t width = 100;

}  // namespace

int report_error(const error_code& ec, const std::string& detail) {
  auto kind = kind_of(ec);
  std::string message = detail.empty() ? ec.message() : detail;
  fmt::print(stderr, "spool: {}\n", message);
  print_error_line(code_name(ec), to_string(kind), message);
  return exit_code_for(kind);
}

int report_error(const error& e) { return report_error(e.code, e.message); }

int report_usage(const std::string& why, std::string_view usage) {
  if (!why.empty()) fmt::print(stderr, "spool: {}\n", why);
  fmt::print(stderr, "{}", usage);
  auto name = to_string(category_kind::usage);
  print_error_line(name, name, why.empty() ? std::string(name) : why);
  return usage_exit;
}

void print_json(const boost::json::value& v) {
  fmt::print("{}\n", to_json_text(v));
  std::fflush(stdout);
}

std::string synopsis(const command_entry& entry, const po::options_description& options, std::string_view indent) {
  std::vector<std::string> required, optional;
  for (const auto& od : options.options()) {
    const auto* v = dynamic_cast<const option_value*>(od->semantic().get());
    std::string name = "--" + od->long_name();
    if (!v || v->type() == option_value::kind::flag) {
      optional.push_back("[" + name + "]");
    } else if (v->is_required()) {
      required.push_back(name + " " + v->value_label());
    } else {
      optional.push_back("[" + name + " " + v->value_label() + "]" +
                         (v->type() == option_value::kind::list ? "..." : ""));
    }
  }
  std::vector<std::string> parts;
  if (!entry.operands.empty()) parts.emplace_back(entry.operands);
  parts.insert(parts.end(), required.begin(), required.end());
  parts.insert(parts.end(), optional.begin(), optional.end());

  std::string out = fmt::format("{}spool {}", indent, entry.words);
  std::string continuation(out.size() + 1, ' ');
  std::size_t line = out.size();
  for (std::size_t i = 0; i < parts.size(); ++i) {
    // The first part stays on the command's line, whatever its length.
    if (i > 0 && line + 1 + parts[i].size() > width) {
      out += "\n" + continuation;
      line = continuation.size();
    } else {
      out += ' ';
      ++line;
    }
    out += parts[i];
    line += parts[i].size();
  }
  return out + "\n";
}

std::string command_help(const command_entry& entry) {
  auto cmd = entry.make();
  auto options = cmd->options();
  std::ostringstream os;
  os << synopsis(entry, options, "usage: ") << "\n" << entry.summary << "\n";
  if (!options.options().empty()) os << "\n" << options;
  if (!entry.details.empty()) os << "\n" << entry.details;
  return os.str();
}

std::string general_usage(std::span<const command_entry> commands) {
  std::string out = "usage: spool COMMAND ...\n\n";
  for (const auto& e : commands) {
    out += synopsis(e, e.make()->options(), "  ");
    out += fmt::format("      {}\n", e.summary);
  }
  out += R"(
spool COMMAND --help (or spool help COMMAND) describes a command and each of its options.

exit codes: 0 ok, 2 usage, 3 input refused (input, policy, unsupported),
            4 resource, transient or internal failure, 130 interrupted.
On failure the last line on stderr is one JSON object: {"error":{"code","category","message"}}.
)";
  return out;
}

namespace {

std::atomic<bool> g_cancel{false};

extern "C" void on_signal(int) { g_cancel.store(true); }

}  // namespace

std::atomic<bool>& cancel_requested() noexcept { return g_cancel; }

void install_signals() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  // A file-size limit must surface as a typed error (EFBIG), not kill the process.
  std::signal(SIGXFSZ, SIG_IGN);
}

}  // namespace spool::cli
