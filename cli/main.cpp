// The spool command-line tool: finds the command in the table, parses its line and runs it. Exit
// codes and the final JSON error line are in report.hpp; the commands in *_command(s).cpp.
#include <spool/error.hpp>
#include <spool/media/log.hpp>

#include <fmt/format.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "args.hpp"
#include "report.hpp"

namespace {

using namespace spool::cli;

std::vector<command_entry> all_commands() {
  std::vector<command_entry> all;
  for (auto family : {media_commands(), queue_commands(), worker_commands(), presign_commands()})
    all.insert(all.end(), family.begin(), family.end());
  return all;
}

/// How many of `args` name `e` ("queue", "stats" for "queue stats"); 0 when they do not.
std::size_t words_matched(const command_entry& e, const std::vector<std::string>& args) {
  std::string said;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i].find(' ') != std::string::npos) return 0;
    said += args[i];
    if (said == e.words) return i + 1;
    said += ' ';
    if (!e.words.starts_with(said)) return 0;
  }
  return 0;
}

struct found {
  const command_entry* entry = nullptr;
  std::size_t words = 0;
  std::string why;  ///< when nothing was found
};

found find_command(const std::vector<command_entry>& all, const std::vector<std::string>& args) {
  for (const auto& e : all)
    if (auto n = words_matched(e, args)) return {&e, n, {}};
  // A family such as "queue" or "dlq" without a subcommand it has.
  std::string family = args[0] + " ", subcommands;
  for (const auto& e : all) {
    if (!e.words.starts_with(family)) continue;
    subcommands += (subcommands.empty() ? "" : ", ") + std::string(e.words.substr(family.size()));
  }
  if (subcommands.empty()) return {nullptr, 0, "unknown command '" + args[0] + "'"};
  if (args.size() == 1) return {nullptr, 0, fmt::format("{} needs a subcommand ({})", args[0], subcommands)};
  return {nullptr, 0, fmt::format("unknown {} subcommand '{}' (it has: {})", args[0], args[1], subcommands)};
}

int run_command(const command_entry& entry, const std::vector<std::string>& args) {
  auto cmd = entry.make();
  auto options = cmd->options();
  try {
    auto line = parse_command_line(entry, options, args);
    if (line.help) {
      fmt::print("{}", command_help(entry));
      return ok;
    }
    install_signals();
    // FFmpeg's own chatter is noise here: spool reports every failure itself.
    spool::media::set_ffmpeg_log_level(std::getenv("SPOOL_AV_LOG") ? spool::media::ffmpeg_log::info
                                                                   : spool::media::ffmpeg_log::error);
    return cmd->run(line.operands);
  } catch (const usage_error& e) {
    return report_usage(e.what(), synopsis(entry, options, "usage: ") +
                                      fmt::format("(spool {} --help describes each option)\n", entry.words));
  } catch (const std::exception& e) {
    return report_error(spool::errc::internal, e.what());
  }
}

}  // namespace

int main(int argc, char** argv) {
  const auto commands = all_commands();
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) return report_usage("", general_usage(commands));
  if (args[0] == "--version") args[0] = "version";
  if (args[0] == "help" || args[0] == "-h" || args[0] == "--help") {
    if (args.size() == 1) {
      fmt::print("{}", general_usage(commands));
      return ok;
    }
    auto f = find_command(commands, {args.begin() + 1, args.end()});
    if (!f.entry) return report_usage(f.why, general_usage(commands));
    fmt::print("{}", command_help(*f.entry));
    return ok;
  }
  auto f = find_command(commands, args);
  if (!f.entry) return report_usage(f.why, general_usage(commands));
  return run_command(*f.entry, {args.begin() + static_cast<std::ptrdiff_t>(f.words), args.end()});
}
