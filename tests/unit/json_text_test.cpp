#include <spool/json_text.hpp>

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

TEST_CASE("Json::Text: numbers print as people write them and read back to the same value", "[json]") {
  boost::json::object o{
      {"duration_s", 30.0}, {"fps", 29.97002997002997}, {"speed", 0.1}, {"frames", 900}, {"tiny", 1e-9},
      {"huge", 1e300},      {"negative", -2.5}};
  const std::string text = spool::to_json_text(o);
  CHECK(text.find("\"duration_s\":30,") != std::string::npos);
  CHECK(text.find("\"speed\":0.1,") != std::string::npos);
  CHECK(text.find("\"frames\":900") != std::string::npos);
  CHECK(text.find("E") == std::string::npos);  // Boost.JSON's own printer says 3E1
  auto back = boost::json::parse(text).as_object();
  for (const auto& kv : o) {
    INFO(kv.key());
    CHECK(back.at(kv.key()).to_number<double>() == kv.value().to_number<double>());
  }
}

TEST_CASE("Json::Text: strings, nesting and values JSON cannot hold", "[json]") {
  boost::json::value v = {{"name", "a \"quoted\"\n\u00e9 line"},
                          {"list", {1, 2.5, true, nullptr, boost::json::object{}}},
                          {"nan", std::numeric_limits<double>::quiet_NaN()},
                          {"inf", std::numeric_limits<double>::infinity()}};
  const std::string text = spool::to_json_text(v);
  auto back = boost::json::parse(text);
  CHECK(back.at("name").as_string() == v.at("name").as_string());
  CHECK(back.at("list").as_array().size() == 5);
  CHECK(back.at("list").as_array()[1].as_double() == 2.5);
  CHECK(back.at("nan").is_null());
  CHECK(back.at("inf").is_null());
}
