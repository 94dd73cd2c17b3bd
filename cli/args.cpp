#include "args.hpp"

#include <boost/program_options/errors.hpp>
#include <boost/program_options/parsers.hpp>
#include <boost/program_options/variables_map.hpp>
#include <fmt/format.h>

#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdlib>

namespace spool::cli {

bool parse_number(const std::string& text, double& out) {
  if (text.empty()) return false;
  char* end = nullptr;
  errno = 0;
  out = std::strtod(text.c_str(), &end);
  return *end == '\0' && errno != ERANGE && std::isfinite(out);
}

option_value::option_value(kind k, std::function<void(const std::string&)> sink)
    : kind_(k), text_sink_(std::move(sink)) {}

option_value::option_value(std::function<void(double)> sink) : kind_(kind::number), number_sink_(std::move(sink)) {}

option_value* option_value::value_name(std::string name) {
  value_name_ = std::move(name);
  return this;
}
option_value* option_value::at_least(double min) {
  min_ = min;
  min_exclusive_ = false;
  return this;
}
option_value* option_value::above(double min) {
  min_ = min;
  min_exclusive_ = true;
  return this;
}
option_value* option_value::at_most(double max) {
  max_ = max;
  return this;
}
option_value* option_value::default_text(std::string text) {
  default_text_ = std::move(text);
  return this;
}
option_value* option_value::required() {
  required_ = true;
  return this;
}

std::string option_value::name() const {
  if (kind_ == kind::flag) return {};
  return default_text_.empty() ? value_name_ : value_name_ + " (=" + default_text_ + ")";
}

std::string option_value::bounds_text() const {
  if (min_ == 0) return min_exclusive_ ? "a positive number" : "a non-negative number";
  return fmt::format("a number {} {}", min_exclusive_ ? "above" : "of at least", min_);
}

void option_value::xparse(boost::any& store, const std::vector<std::string>& tokens) const {
  // Program_options puts the option's name in for %canonical_option%.
  if (kind_ == kind::flag) {
    text_sink_({});
  } else if (kind_ == kind::number) {
    double v = 0;
    if (!parse_number(tokens.front(), v) || v < min_ || (min_exclusive_ && v == min_))
      throw po::error_with_option_name("%canonical_option% needs " + bounds_text());
    if (v > max_)
      throw po::error_with_option_name(fmt::format("%canonical_option% needs a number of at most {}", max_));
    number_sink_(v);
  } else {
    if (required_ && tokens.front().empty()) throw po::error_with_option_name("%canonical_option% needs a value");
    text_sink_(tokens.front());
  }
  store = true;  // the variables_map only records that the option was given
}

namespace {

std::string shown(double v) { return fmt::format("{:g}", v); }

option_value* number_value(std::function<void(double)> sink, double current) {
  return (new option_value(std::move(sink)))->value_name("N")->default_text(shown(current));
}

// The most seconds a millisecond count in a long long holds, with room to spare.
constexpr double max_seconds = 9e15;

}  // namespace

option_value* flag(bool& target) {
  return new option_value(option_value::kind::flag, [&target](const std::string&) { target = true; });
}

option_value* text(std::string& target) {
  auto* v = new option_value(option_value::kind::text, [&target](const std::string& s) { target = s; });
  return v->default_text(target);
}

option_value* text(std::optional<std::string>& target) {
  return new option_value(option_value::kind::text, [&target](const std::string& s) { target = s; });
}

option_value* list(std::vector<std::string>& target) {
  return new option_value(option_value::kind::list, [&target](const std::string& s) { target.push_back(s); });
}

option_value* number(double& target) {
  return number_value([&target](double v) { target = v; }, target);
}

option_value* number(int& target) {
  return number_value([&target](double v) { target = static_cast<int>(v); }, target)->at_most(INT_MAX);
}

option_value* seconds(std::chrono::milliseconds& target) {
  auto* v = number_value([&target](double s) { target = std::chrono::milliseconds(static_cast<long long>(s * 1000)); },
                         static_cast<double>(target.count()) / 1000);
  return v->value_name("S")->at_most(max_seconds);
}

option_value* seconds(std::chrono::seconds& target) {
  auto* v = number_value([&target](double s) { target = std::chrono::seconds(static_cast<long long>(s)); },
                         static_cast<double>(target.count()));
  return v->value_name("S")->at_most(max_seconds);
}

po::options_description option_group(const std::string& caption) { return po::options_description(caption, 100, 50); }

po::options_description input_policy_options(input_policy& p) {
  auto d = option_group("input policy");
  d.add_options()  //
      ("allow-https-host", list(p.https_hosts)->value_name("HOST"),
       "read https:// inputs from HOST (repeatable); other hosts are refused")  //
      ("allow-s3-bucket", list(p.s3_prefixes)->value_name("BUCKET[/PREFIX]"),
       "read s3:// inputs from BUCKET, or only under BUCKET/PREFIX (repeatable); others are refused")  //
      ("https-ca-file", text(p.https_ca_file)->value_name("FILE"),
       "trust only the CAs in FILE (PEM) for https://, not the system's")  //
      ("allow-private-addresses", flag(p.https_allow_private_addresses),
       "let a host resolve to loopback, private or link-local addresses")                                 //
      ("max-duration", number(p.max_duration_s)->value_name("S"), "refuse inputs longer than S seconds")  //
      ("deadline", seconds(p.deadline), "the whole job's time limit; 0: automatic, from the input's duration");
  return d;
}

po::options_description encoder_options(int& nice, bool& idle, int& threads) {
  auto d = option_group("encoding");
  d.add_options()                                                                                //
      ("nice", number(nice), "added to the encoder threads' nice value; 0 keeps the process's")  //
      ("idle", flag(idle), "encode only on CPU time nothing else wants (Linux SCHED_IDLE)")      //
      ("encoder-threads", number(threads), "threads per encoder; 0: the encoder's own choice");
  return d;
}

po::options_description plan_options(std::string& preset, std::string& spec_file) {
  auto d = option_group("ladder");
  d.add_options()                                                                                            //
      ("preset", text(preset)->value_name("NAME"), "start from the preset NAME (spool presets lists them)")  //
      ("spec", text(spec_file)->value_name("FILE"), "apply the JSON plan spec in FILE on top (docs/job-spec.md)");
  return d;
}

po::options_description queue_options(std::string& uri) {
  auto d = option_group("queue");
  d.add_options()  //
      ("queue", text(uri)->value_name("URI")->required(),
       "mem://NAME (this process only), file:///ABSOLUTE/PATH.db (durable) or sqs://REGION/ACCOUNT/QUEUE");
  return d;
}

namespace {

std::vector<std::string> words_of(std::string_view text) {
  std::vector<std::string> out;
  std::size_t at = 0;
  while ((at = text.find_first_not_of(' ', at)) != std::string_view::npos) {
    auto end = std::min(text.find(' ', at), text.size());
    out.emplace_back(text.substr(at, end - at));
    at = end;
  }
  return out;
}

}  // namespace

parsed_line parse_command_line(const command_entry& entry, const po::options_description& options,
                               const std::vector<std::string>& args) {
  parsed_line out;
  po::options_description all;
  all.add(options);
  all.add_options()("help,h", flag(out.help), "this help");
  namespace style = po::command_line_style;
  try {
    // No abbreviations: "--conc" is an unknown option, not --concurrency.
    auto parsed = po::command_line_parser(args).options(all).style(style::default_style & ~style::allow_guessing).run();
    po::variables_map given;
    po::store(parsed, given);
    out.operands = po::collect_unrecognized(parsed.options, po::include_positional);
    if (out.help) return out;
    po::notify(given);  // the required options
  } catch (const po::unknown_option& e) {
    throw usage_error("unknown option " + e.get_option_name());
  } catch (const po::invalid_command_line_syntax& e) {
    if (e.kind() == po::invalid_syntax::missing_parameter || e.kind() == po::invalid_syntax::empty_adjacent_parameter)
      throw usage_error(e.get_option_name() + " needs a value");
    if (e.kind() == po::invalid_syntax::extra_parameter) throw usage_error(e.get_option_name() + " takes no value");
    throw usage_error(e.what());
  } catch (const po::required_option& e) {
    throw usage_error(e.get_option_name() + " is required");
  } catch (const po::error& e) {
    throw usage_error(e.what());
  }
  auto wanted = words_of(entry.operands);
  if (out.operands.size() > wanted.size())
    throw usage_error("unexpected argument '" + out.operands[wanted.size()] + "'");
  if (out.operands.size() < wanted.size()) throw usage_error(fmt::format("{} needs {}", entry.words, entry.operands));
  return out;
}

}  // namespace spool::cli
