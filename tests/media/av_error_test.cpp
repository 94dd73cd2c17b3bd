// FFmpeg's error values mapped into spool's taxonomy (an internal of the media engine).
#include <catch2/catch.hpp>

#include "media/av.hpp"

using spool::errc;

TEST_CASE("Error::FromAverror: FFmpeg errors land in the right category", "[error]") {
  CHECK(spool::media::from_averror(AVERROR_INVALIDDATA) == errc::input_undecodable);
  CHECK(spool::media::from_averror(AVERROR_DECODER_NOT_FOUND) == errc::codec_unsupported);
  CHECK(spool::media::from_averror(AVERROR(ENOSPC)) == errc::no_space);
  CHECK(spool::media::from_averror(AVERROR(ENOMEM)) == errc::out_of_memory);
  CHECK(spool::media::from_averror(AVERROR_EXIT) == errc::cancelled);
  CHECK(spool::media::from_averror(AVERROR_UNKNOWN, errc::io_error) == errc::io_error);
  CHECK_FALSE(spool::media::from_averror(0));
}
