// The shared config and credentials files.
#include "aws/shared_config.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>
#include <system_error>

namespace spool::inline SPOOL_ABI_NAMESPACE::aws {
namespace {

bool is_space(char c) noexcept { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// A `#` or `;` after whitespace ends the useful part of a line.
std::string_view strip_inline_comment(std::string_view s) noexcept {
  for (std::size_t i = 1; i < s.size(); ++i)
    if ((s[i] == '#' || s[i] == ';') && is_space(s[i - 1])) return trim(s.substr(0, i));
  return s;
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::filesystem::path expand_home(const environment& env, std::string path) {
  if (path.empty() || path[0] != '~') return path;
  auto home = env_value(env, "HOME");
  if (!home) home = env_value(env, "USERPROFILE");
  if (!home) return path;  // left as written; opening it will fail and say where
  return *home + path.substr(1);
}

// nullopt when the file does not exist.
result<std::optional<std::string>> read_file(const std::filesystem::path& path) {
  std::error_code ec;
  auto st = std::filesystem::status(path, ec);
  if (st.type() == std::filesystem::file_type::not_found) return std::optional<std::string>{};
  if (std::filesystem::is_directory(st))
    return error(errc::invalid_argument, fmt::format("the AWS file {} is a directory", path.string()));
  std::ifstream in(path, std::ios::binary);
  if (!in) return error(errc::invalid_argument, fmt::format("the AWS file {} cannot be read", path.string()));
  std::ostringstream all;
  all << in.rdbuf();
  if (in.bad()) return error(errc::invalid_argument, fmt::format("the AWS file {} cannot be read", path.string()));
  return std::optional<std::string>{all.str()};
}

}  // namespace

std::optional<std::string> env_value(const environment& env, std::string_view name) {
  if (!env) return std::nullopt;
  auto v = env(name);
  if (v && v->empty()) return std::nullopt;
  return v;
}

result<ini_sections> parse_ini(std::string_view text, std::string_view origin) {
  ini_sections out;
  ini_section* section = nullptr;
  std::string last_key;  // the setting an indented line continues, or is a sub-setting of
  int line_no = 0;
  while (!text.empty()) {
    auto nl = text.find('\n');
    std::string_view raw = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    ++line_no;
    auto line = trim(raw);
    if (line.empty() || line.front() == '#' || line.front() == ';') continue;
    auto bad = [&](std::string_view why) {
      return error(errc::invalid_argument, fmt::format("{}, line {}: {}", origin, line_no, why));
    };
    if (line.front() == '[') {
      auto close = line.find(']');
      if (close == std::string_view::npos) return bad("a section header without ']'");
      auto rest = trim(line.substr(close + 1));
      if (!rest.empty() && rest.front() != '#' && rest.front() != ';') return bad("text after a section header");
      auto name = trim(line.substr(1, close - 1));
      if (name.empty()) return bad("a section without a name");
      section = &out[std::string(name)];
      last_key.clear();
      continue;
    }
    if (section == nullptr) return bad("a setting before any [section]");
    const bool indented = is_space(raw.front());
    if (indented && !last_key.empty()) {
      auto& parent = (*section)[last_key];
      auto eq = line.find('=');
      if (parent.empty() && eq != std::string_view::npos) {  // "s3 =" then "  addressing_style = path"
        auto key = trim(line.substr(0, eq));
        (*section)[last_key + "." + lower(key)] = std::string(strip_inline_comment(trim(line.substr(eq + 1))));
      } else {  // a value continued on the next line
        if (!parent.empty()) parent += '\n';
        parent += strip_inline_comment(line);
      }
      continue;
    }
    auto eq = line.find_first_of("=:");
    if (eq == std::string_view::npos) return bad("neither a [section] nor a 'key = value' setting");
    auto key = trim(line.substr(0, eq));
    if (key.empty()) return bad("a setting without a name");
    last_key = lower(key);
    (*section)[last_key] = std::string(strip_inline_comment(trim(line.substr(eq + 1))));
  }
  return out;
}

const ini_section* shared_config::profile(std::string_view name) const {
  auto it = profiles.find(std::string(name));
  return it == profiles.end() ? nullptr : &it->second;
}

std::string shared_config::setting(std::string_view profile_name, std::string_view key) const {
  const auto* p = profile(profile_name);
  if (p == nullptr) return {};
  auto it = p->find(std::string(key));
  return it == p->end() ? std::string() : it->second;
}

std::filesystem::path config_file_path(const environment& env) {
  return expand_home(env, env_value(env, "AWS_CONFIG_FILE").value_or("~/.aws/config"));
}

std::filesystem::path credentials_file_path(const environment& env) {
  return expand_home(env, env_value(env, "AWS_SHARED_CREDENTIALS_FILE").value_or("~/.aws/credentials"));
}

std::string profile_name(const environment& env) { return env_value(env, "AWS_PROFILE").value_or("default"); }

result<shared_config> load_shared_config(const environment& env) {
  shared_config out;
  out.config_file = config_file_path(env);
  out.credentials_file = credentials_file_path(env);

  auto config_text = read_file(out.config_file);
  if (!config_text) return config_text.error();
  if (*config_text) {
    auto sections = parse_ini(**config_text, out.config_file.string());
    if (!sections) return sections.error();
    // "[profile NAME]" names a profile, "[default]" the default one; other sections (sso-session,
    // services) are not profiles. "[profile default]" wins over "[default]".
    for (auto& [name, settings] : *sections) {
      constexpr std::string_view prefix = "profile";
      if (name == "default") {
        out.profiles.try_emplace("default", settings);
      } else if (name.size() > prefix.size() && name.compare(0, prefix.size(), prefix) == 0 &&
                 is_space(name[prefix.size()])) {
        auto profile = std::string(trim(std::string_view(name).substr(prefix.size())));
        if (!profile.empty()) out.profiles[profile] = settings;
      }
    }
    out.config_profiles = out.profiles;
  }

  auto creds_text = read_file(out.credentials_file);
  if (!creds_text) return creds_text.error();
  if (*creds_text) {
    auto sections = parse_ini(**creds_text, out.credentials_file.string());
    if (!sections) return sections.error();
    for (auto& [name, settings] : *sections)
      for (auto& [key, value] : settings) out.profiles[name][key] = value;
  }
  return out;
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::aws
