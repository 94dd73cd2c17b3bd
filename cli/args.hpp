#pragma once
// The command line, declared: each command names its options once (name, value, default, help
// text), bound to its own variables; parsing, checking and the usage texts all come from those
// declarations (Boost.Program_options underneath).
#include <spool/input_policy.hpp>

#include <boost/program_options/options_description.hpp>
#include <boost/program_options/value_semantic.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace spool::cli {

namespace po = boost::program_options;

/// The command line is wrong (exit 2); what() says how, in the user's terms.
struct usage_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// A whole, non-empty, finite number ("2", "0.5"); nothing may follow it.
bool parse_number(const std::string& text, double& out);

/// One option's value, written into its bound variable as the command line is read: a repeated
/// option's last value wins, except for lists, which collect every value. Numbers are read with
/// parse_number and must lie within the declared bounds.
class option_value final : public po::value_semantic_codecvt_helper<char> {
 public:
  enum class kind { flag, text, list, number };
  /// A flag (the sink gets an empty token), a text or a list.
  option_value(kind k, std::function<void(const std::string&)> sink);
  /// A number, non-negative unless told otherwise.
  explicit option_value(std::function<void(double)> sink);

  /// Names the value in help and synopses ("S", "URI").
  option_value* value_name(std::string name);
  /// Numbers: the least value accepted.
  option_value* at_least(double min);
  /// Numbers: values must be above `min`.
  option_value* above(double min);
  /// Numbers: the greatest value accepted (set for the integer and duration variables).
  option_value* at_most(double max);
  /// Shown as the default; empty shows none. Numbers show their variable's starting value unless told.
  option_value* default_text(std::string text);
  /// Must be given, with a non-empty value.
  option_value* required();

  kind type() const { return kind_; }
  const std::string& value_label() const { return value_name_; }

  std::string name() const override;
  unsigned min_tokens() const override { return kind_ == kind::flag ? 0 : 1; }
  unsigned max_tokens() const override { return kind_ == kind::flag ? 0 : 1; }
  bool is_composing() const override { return false; }
  bool is_required() const override { return required_; }
  bool apply_default(boost::any&) const override { return false; }
  void notify(const boost::any&) const override {}

 protected:
  void xparse(boost::any& store, const std::vector<std::string>& tokens) const override;

 private:
  std::string bounds_text() const;

  kind kind_;
  std::function<void(const std::string&)> text_sink_;
  std::function<void(double)> number_sink_;
  std::string value_name_ = "VALUE";
  std::string default_text_;
  double min_ = 0, max_ = 1e308;
  bool min_exclusive_ = false, required_ = false;
};

// The values an option can bind to. Each returns a new value for add_options(), which owns it.
option_value* flag(bool& target);
option_value* text(std::string& target);
/// Unset unless given; given empty stays distinguishable from not given.
option_value* text(std::optional<std::string>& target);
/// Repeatable: each occurrence adds one element.
option_value* list(std::vector<std::string>& target);
option_value* number(double& target);
/// Whole numbers: a fraction is dropped, as it always was ("--nice 2.5" is 2).
option_value* number(int& target);
option_value* seconds(std::chrono::milliseconds& target);
/// Whole seconds: a fraction is dropped.
option_value* seconds(std::chrono::seconds& target);

/// A group of options, printed under `caption` in help at the tool's width.
po::options_description option_group(const std::string& caption);

// Option groups several commands share.
/// --allow-https-host, --allow-s3-bucket, --https-ca-file, --allow-private-addresses, --max-duration, --deadline.
po::options_description input_policy_options(input_policy& policy);
/// --nice, --encoder-threads.
po::options_description encoder_options(int& nice, bool& idle, int& threads);
/// --preset, --spec.
po::options_description plan_options(std::string& preset, std::string& spec_file);
/// --queue URI, required.
po::options_description queue_options(std::string& uri);

/// A command after its options are declared: run() is called once the line is parsed and checked.
class command {
 public:
  virtual ~command() = default;
  /// The command's options, bound to its own variables.
  virtual po::options_description options() = 0;
  /// With as many operands as the command declares.
  virtual int run(const std::vector<std::string>& operands) = 0;
};

/// A row of the command table: what help says of a command, and how to make one.
struct command_entry {
  std::string_view words;     ///< "transcode", "queue stats"
  std::string_view operands;  ///< positional arguments, all required: "IN OUTDIR"
  std::string_view summary;   ///< one line
  std::string_view details;   ///< paragraphs for `spool COMMAND --help`
  std::unique_ptr<command> (*make)();
};

template <class Command>
std::unique_ptr<command> make_command() {
  return std::make_unique<Command>();
}

/// The operands of `args` (the words after the command's own), the options written to their
/// variables, and whether --help was asked (then the required options are not checked).
struct parsed_line {
  std::vector<std::string> operands;
  bool help = false;
};
/// Throws usage_error for an unknown option, a missing or bad value, a required option left out or
/// the wrong number of operands.
parsed_line parse_command_line(const command_entry& entry, const po::options_description& options,
                               const std::vector<std::string>& args);

// The command tables, by family.
std::span<const command_entry> media_commands();
std::span<const command_entry> queue_commands();
std::span<const command_entry> worker_commands();
std::span<const command_entry> presign_commands();

}  // namespace spool::cli
