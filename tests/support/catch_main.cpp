// The one Catch2 main shared by spool's test binaries.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
