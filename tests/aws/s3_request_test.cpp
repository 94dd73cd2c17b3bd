// S3 addressing, key encoding, the answers' XML and the package files' headers: no server needed.
#include "aws/s3_request.hpp"

#include <spool/aws/presign.hpp>
#include <spool/aws/s3.hpp>

#include <catch2/catch.hpp>

#include "aws/s3_source.hpp"
#include "s3_fixture.hpp"

using namespace spool;
using namespace spool::aws;

TEST_CASE("S3 addressing: path style for custom endpoints, virtual-hosted otherwise", "[s3]") {
  auto o = s3test::options_for("http://127.0.0.1:9000");
  CHECK(s3_client(o).url("media", "in/a b.mp4") == "http://127.0.0.1:9000/media/in/a%20b.mp4");
  o.endpoint = "https://s3.eu-west-1.amazonaws.com";
  o.path_style = false;
  s3_client aws(o);
  CHECK(aws.url("media", "in/x.mp4") == "https://media.s3.eu-west-1.amazonaws.com/in/x.mp4");
  // A dotted bucket in the host would not match *.s3.eu-west-1.amazonaws.com's certificate.
  CHECK(aws.url("my.media", "x") == "https://s3.eu-west-1.amazonaws.com/my.media/x");
  CHECK(aws.url("media", "", "list-type=2") == "https://media.s3.eu-west-1.amazonaws.com/?list-type=2");
}

TEST_CASE("S3 keys are encoded once, byte by byte, as S3 signs them", "[s3]") {
  // Expected values written from RFC 3986 and the UTF-8 bytes of each character.
  CHECK(encode_key("a b+c=d") == "a%20b%2Bc%3Dd");
  CHECK(encode_key("dir/sub/file.mp4") == "dir/sub/file.mp4");
  CHECK(encode_key("caf\xC3\xA9/\xE2\x82\xAC.mp4") == "caf%C3%A9/%E2%82%AC.mp4");
  CHECK(encode_key("a//b/./c~_-.") == "a//b/./c~_-.");  // S3 keeps these: no normalisation
  CHECK(encode_query("a/b=c&d") == "a%2Fb%3Dc%26d");
}

TEST_CASE("s3:// URIs and bucket names", "[s3]") {
  auto u = parse_s3_uri("s3://media/in/x.mp4");
  REQUIRE(u.has_value());
  CHECK(u->bucket == "media");
  CHECK(u->key == "in/x.mp4");
  CHECK(parse_s3_uri("S3://media")->key.empty());
  for (const char* bad : {"s3://", "s3://ab/x", "s3://Media/x", "s3://-media/x", "s3://me..dia/x", "https://media/x"}) {
    auto r = parse_s3_uri(bad);
    INFO(bad);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == errc::invalid_argument);
  }
  CHECK_FALSE(parse_s3_uri("s3://media/" + std::string(1025, 'k')).has_value());
}

TEST_CASE("S3 answers' XML: blocks, text and entities", "[s3]") {
  const std::string xml =
      "<ListBucketResult><Prefix>p/</Prefix><Contents><Key>p/a&amp;b &lt;1&gt;</Key></Contents>"
      "<Contents><Key>p/caf&#233;&#x20AC;</Key></Contents><CommonPrefixes><Prefix>p/d/</Prefix></CommonPrefixes>"
      "</ListBucketResult>";
  auto contents = xml_blocks(xml, "Contents");
  REQUIRE(contents.size() == 2);
  CHECK(xml_text(contents[0], "Key") == "p/a&b <1>");
  CHECK(xml_text(contents[1], "Key") == "p/caf\xC3\xA9\xE2\x82\xAC");
  auto prefixes = xml_blocks(xml, "CommonPrefixes");
  REQUIRE(prefixes.size() == 1);
  CHECK(xml_text(prefixes[0], "Prefix") == "p/d/");
  CHECK_FALSE(xml_text(xml, "UploadId"));
}

TEST_CASE("Package files are stored with their media type and caching", "[s3]") {
  struct row {
    const char* name;
    const char* type;
    bool immutable;
  };
  for (auto r : {row{"master.m3u8", "application/vnd.apple.mpegurl", false},
                 row{"720p/index.m3u8", "application/vnd.apple.mpegurl", false},
                 row{"manifest.mpd", "application/dash+xml", false}, row{"720p/seg_00001.m4s", "video/mp4", true},
                 row{"720p/init.mp4", "video/mp4", true}, row{"audio/seg_00001.m4s", "audio/mp4", true},
                 row{"audio/init.mp4", "audio/mp4", true}, row{"720p.mp4", "video/mp4", true},
                 row{"poster.jpg", "image/jpeg", true}, row{"sheet.png", "image/png", true},
                 row{"thumb.webp", "image/webp", true}, row{"storyboard.vtt", "text/vtt", true},
                 row{"result.json", "application/json", false}}) {
    INFO(r.name);
    auto h = package_file_headers(r.name);
    CHECK(h.content_type == r.type);
    CHECK((h.cache_control.find("immutable") != std::string::npos) == r.immutable);
    if (!r.immutable) CHECK(h.cache_control.find("max-age=31536000") == std::string::npos);
  }
}

TEST_CASE("An s3 input is allowed by bucket or by key prefix", "[s3]") {
  input_policy p;
  CHECK_FALSE(s3_input_allowed(p, "media", "x.mp4"));  // nothing listed: refused
  p.s3_prefixes = {"media", "uploads/in/"};
  CHECK(s3_input_allowed(p, "media", "any/x.mp4"));
  CHECK_FALSE(s3_input_allowed(p, "media2", "x.mp4"));
  CHECK(s3_input_allowed(p, "uploads", "in/x.mp4"));
  CHECK_FALSE(s3_input_allowed(p, "uploads", "private/x.mp4"));
  CHECK_FALSE(s3_input_allowed(p, "uploads", "in"));
}

TEST_CASE("S3 store options are checked", "[s3]") {
  auto o = s3test::options_for("http://127.0.0.1:9");
  o.part_size = 1 << 20;  // below S3's 5 MiB
  CHECK(make_resolved_s3_store(o).error().code == errc::invalid_argument);
  o = s3test::options_for("ftp://127.0.0.1:9");
  CHECK(make_resolved_s3_store(o).error().code == errc::invalid_argument);
  o = s3test::options_for("http://127.0.0.1:9");
  o.credentials = nullptr;
  CHECK(make_resolved_s3_store(o).error().code == errc::no_credentials);
  CHECK(make_resolved_s3_store(s3test::options_for("http://127.0.0.1:9/")).has_value());
}
