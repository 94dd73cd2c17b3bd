#include "fixtures.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <stdexcept>
#include <system_error>

namespace spool::inline SPOOL_ABI_NAMESPACE::test {
namespace fs = std::filesystem;

scratch_dir::scratch_dir(const std::string& tag) {
  std::string templ = (fs::temp_directory_path() / ("spool-test-" + tag + "-XXXXXX")).string();
  if (!mkdtemp(templ.data())) throw std::runtime_error("mkdtemp failed for " + templ);
  path_ = templ;
}

scratch_dir::~scratch_dir() {
  if (std::getenv("SPOOL_TEST_KEEP")) return;
  std::error_code ec;
  fs::remove_all(path_, ec);
}

std::vector<std::string> temp_leftovers(const fs::path& parent) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(parent, ec)) {
    auto name = e.path().filename().string();
    if (name.find(".spool-tmp-") != std::string::npos) out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string describe(const spool::error_code& ec) {
  if (!ec) return "success";
  return spool::code_name(ec) + " (" + std::string(spool::to_string(spool::kind_of(ec))) + "): " + ec.message();
}

spool::plan default_plan() { return spool::make_preset("hls-ladder").value(); }

spool::plan small_plan(std::vector<int> heights) {
  spool::plan p = default_plan();
  p.video.rungs.clear();
  for (int h : heights) {
    spool::rung r;
    r.name = std::to_string(h) + "p";
    r.height = h;
    r.crf = 28;
    p.video.rungs.push_back(r);
  }
  p.video.preset = "ultrafast";
  return p;
}

spool::media::transcode_options options_for(const spool::plan& p) {
  spool::media::transcode_options o;
  o.plan = p;
  return o;
}

spool::error_code probe(const std::string& input, const spool::input_policy& policy, spool::media::probe_result& out,
                        std::string* detail) {
  auto r = spool::probe(input, policy);
  if (!r) {
    if (detail) *detail = r.error().what();
    return r.error().code;
  }
  out = *std::move(r);
  return {};
}

std::vector<std::string> list_dir(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

bool contains_file(const fs::path& dir, const std::string& suffix) {
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    auto name = it->path().filename().string();
    if (name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
      return true;
  }
  return false;
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::test
