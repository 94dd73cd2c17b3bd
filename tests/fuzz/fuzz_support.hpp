#pragma once
// Shared by the fuzz targets: a per-process scratch directory on tmpfs, writing the fuzz bytes to a
// file (the library opens paths), and the rule that a bad input may fail only with a typed error.
#include <spool/error.hpp>

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace spool::fuzz {

/// Ends the run as a finding: libFuzzer records the input that got here as a crash artifact.
[[noreturn]] inline void finding(const std::string& what) {
  std::fprintf(stderr, "\nFUZZ FINDING: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

inline void require(bool ok, const std::string& what) {
  if (!ok) finding(what);
}

/// A fresh directory under /dev/shm (tmpfs: no disk writes per input), one per process, removed at
/// exit. Fuzzing with -jobs/-workers runs several processes, hence the pid in the name.
inline const std::filesystem::path& scratch() {
  struct dir {
    std::filesystem::path p;
    dir() {
      std::filesystem::path base =
          std::filesystem::exists("/dev/shm") ? "/dev/shm" : std::filesystem::temp_directory_path();
      p = base / ("spool-fuzz-" + std::to_string(::getpid()));
      std::error_code ec;
      // A finding ends the process with abort(), which runs no destructor: remove what dead runs left.
      for (auto it = std::filesystem::directory_iterator(base, ec); !ec && it != std::filesystem::directory_iterator();
           it.increment(ec)) {
        const std::string name = it->path().filename().string();
        if (name.rfind("spool-fuzz-", 0) != 0) continue;
        const long pid = std::strtol(name.c_str() + 11, nullptr, 10);
        if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) {
          std::error_code rec;
          std::filesystem::remove_all(it->path(), rec);
        }
      }
      std::filesystem::remove_all(p, ec);
      std::filesystem::create_directories(p);
    }
    ~dir() {
      std::error_code ec;
      std::filesystem::remove_all(p, ec);
    }
  };
  static dir d;
  return d.p;
}

inline void write_file(const std::filesystem::path& path, const std::uint8_t* data, std::size_t size) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  f.close();
  if (!f) finding("cannot write the fuzz input to " + path.string());
}

/// "code (category): detail" for a finding's message.
inline std::string describe(const error_code& ec, const std::string& detail = {}) {
  return code_name(ec) + " (" + std::string(to_string(kind_of(ec))) + "): " + (detail.empty() ? ec.message() : detail);
}

/// A failure caused by the input must say what kind it is; `internal` means a bug in spool.
inline void require_typed(const error_code& ec, std::string_view what, const std::string& detail = {}) {
  if (!ec) return;
  const auto k = kind_of(ec);
  if (k == category_kind::internal || k == category_kind::none)
    finding(std::string(what) + " failed with an untyped error: " + describe(ec, detail));
}
inline void require_typed(const error& e, std::string_view what) { require_typed(e.code, what, e.message); }

/// The value of `r`, or null after checking that its error is typed.
template <class T>
const T* value_or_typed(const result<T>& r, std::string_view what) {
  if (r) return &*r;
  require_typed(r.error(), what);
  return nullptr;
}

/// Names in `dir` containing ".spool-tmp-": a failed or finished operation left staging behind.
inline std::vector<std::string> temp_leftovers(const std::filesystem::path& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator(dir, ec); !ec && it != std::filesystem::directory_iterator();
       it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name.find(".spool-tmp-") != std::string::npos) out.push_back(name);
  }
  return out;
}

}  // namespace spool::fuzz
