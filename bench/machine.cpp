#include "machine.hpp"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>

namespace spool_bench {

std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

std::string loadavg() {
  std::istringstream in(read_text("/proc/loadavg"));
  std::string a, b, c;
  in >> a >> b >> c;
  return a.empty() ? "" : a + " " + b + " " + c;
}

double load1() { return std::strtod(loadavg().c_str(), nullptr); }

machine_info probe_machine() {
  machine_info m;
  m.nproc = sysconf(_SC_NPROCESSORS_ONLN);
  std::istringstream cpu(read_text("/proc/cpuinfo"));
  for (std::string line; std::getline(cpu, line);) {
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      const auto start = colon == std::string::npos ? std::string::npos : line.find_first_not_of(' ', colon + 1);
      if (start != std::string::npos) m.cpu_model = line.substr(start);
      break;
    }
  }
  std::istringstream mem(read_text("/proc/meminfo"));
  for (std::string line; std::getline(mem, line);) {
    if (line.rfind("MemTotal:", 0) == 0) {
      m.mem_gb = std::strtod(line.c_str() + 9, nullptr) / (1024.0 * 1024.0);
      break;
    }
  }
  return m;
}

}  // namespace spool_bench
