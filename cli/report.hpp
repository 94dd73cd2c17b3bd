#pragma once
// How a command ends: the exit code its error's category gives, the final JSON error line, the
// usage and help texts (made from the command table's declarations), and the signals that
// interrupt a command.
#include <spool/error.hpp>

#include <boost/json/value.hpp>

#include <atomic>
#include <span>
#include <string>
#include <string_view>

#include "args.hpp"

namespace spool::cli {

enum exit_code : int { ok = 0, usage_exit = 2, refused = 3, failed = 4, interrupted = 130 };

/// 3 for input, policy and unsupported; 2 for usage; 130 for cancelled; 4 for the rest.
int exit_code_for(category_kind kind) noexcept;

/// Prints the message, then {"error":{"code","category","message"}} as the last line on stderr;
/// returns the exit code of the error's category. An empty detail is the code's own message.
int report_error(const error_code& ec, const std::string& detail);
int report_error(const error& e);
/// A usage error: "spool: why" (unless empty), `usage`, then the JSON line with code and category
/// "usage"; returns 2.
int report_usage(const std::string& why, std::string_view usage);

/// One line of JSON on stdout, as spool::to_json_text writes it; flushed.
void print_json(const boost::json::value& v);

/// "spool transcode IN OUTDIR [--overwrite] ...", wrapped, continuation lines aligned after the
/// command's words; every line starts with `indent`.
std::string synopsis(const command_entry& entry, const po::options_description& options, std::string_view indent);
/// What `spool COMMAND --help` prints.
std::string command_help(const command_entry& entry);
/// What `spool help` prints: every command's synopsis and summary, the exit codes, the error line.
std::string general_usage(std::span<const command_entry> commands);

/// Set by SIGINT or SIGTERM once install_signals() ran; commands that can wait poll it.
std::atomic<bool>& cancel_requested() noexcept;
void install_signals();

}  // namespace spool::cli
