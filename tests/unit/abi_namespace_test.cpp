#include <spool/error.hpp>
#include <spool/plan.hpp>
#include <spool/version.hpp>

#include <catch2/catch.hpp>

#include <string>
#include <typeinfo>

#define SPOOL_TEST_STRINGIZE2(x) #x
#define SPOOL_TEST_STRINGIZE(x) SPOOL_TEST_STRINGIZE2(x)

namespace {

// "v<major>_<minor>" of a "major.minor.patch" version.
std::string abi_name_of(const std::string& version) {
  const auto first = version.find('.');
  const auto second = version.find('.', first + 1);
  REQUIRE(first != std::string::npos);
  REQUIRE(second != std::string::npos);
  return "v" + version.substr(0, first) + "_" + version.substr(first + 1, second - first - 1);
}

}  // namespace

TEST_CASE("Abi::Namespace: the ABI namespace is named for the linked library's major and minor version",
          "[unit][abi]") {
  // A minor version bump without a new ABI namespace (or the reverse) fails here.
  CHECK(std::string(SPOOL_TEST_STRINGIZE(SPOOL_ABI_NAMESPACE)) == abi_name_of(spool::version_string()));
}

TEST_CASE("Abi::Namespace: spool's names are the ABI namespace's", "[unit][abi]") {
  // Spelled out: this line changes with the ABI namespace, on purpose.
  CHECK(spool::v0_2::version() == SPOOL_VERSION);
  CHECK(&spool::version == &spool::v0_2::version);
  // The mangled names carry the namespace: what the linker and the ABI see.
  const std::string abi = abi_name_of(spool::version_string());
  CHECK(std::string(typeid(spool::plan).name()).find(abi) != std::string::npos);
  CHECK(std::string(typeid(spool::failure).name()).find(abi) != std::string::npos);
  CHECK(std::string(typeid(&spool::make_preset).name()).find(abi) != std::string::npos);
}
