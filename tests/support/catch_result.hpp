#pragma once
// How Catch2 prints a spool::result in a failed assertion: Boost's own printer needs the value type
// to be printable, which most of spool's are not.
#include <spool/error.hpp>

#include <catch2/catch.hpp>

#include <string>

namespace Catch {
template <class T>
struct StringMaker<boost::system::result<T, spool::error>> {
  static std::string convert(const boost::system::result<T, spool::error>& r) {
    return r.has_value() ? std::string("a value") : spool::code_name(r.error().code) + ": " + r.error().what();
  }
};
}  // namespace Catch
