// Private playback: a package published to s3rver (which checks every signature) is played through
// the rewritten playlists and MPD: every URL in them fetches, unsigned otherwise, the right file.
#include <spool/aws/presign.hpp>

#include <catch2/catch.hpp>

#include <cstdio>
#include <map>
#include <regex>
#include <sstream>

#include "aws/presign.hpp"
#include "aws/s3_package.hpp"
#include "s3_fixture.hpp"

using namespace spool;
using namespace spool::aws;
namespace fs = std::filesystem;

namespace {

std::string fmt_seg(int i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "seg_%05d.m4s", i);
  return buf;
}

// Written as the engine writes them (lib/media/manifest.cpp).
const char* master_text =
    "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n"
    "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"audio\",NAME=\"default\",LANGUAGE=\"und\",DEFAULT=YES,AUTOSELECT=YES,"
    "CHANNELS=\"2\",URI=\"audio/index.m3u8\"\n"
    "#EXT-X-STREAM-INF:BANDWIDTH=900000,AVERAGE-BANDWIDTH=800000,CODECS=\"avc1.64001f,mp4a.40.2\","
    "RESOLUTION=1280x720,FRAME-RATE=30.000,AUDIO=\"audio\"\n720p/index.m3u8\n";

std::string media_playlist(int segments) {
  std::string out =
      "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:1\n#EXT-X-PLAYLIST-TYPE:VOD\n"
      "#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-MAP:URI=\"init.mp4\"\n";
  for (int i = 1; i <= segments; ++i) out += "#EXTINF:4.000000,\n" + fmt_seg(i) + "\n";
  return out + "#EXT-X-ENDLIST\n";
}

const char* mpd_text =
    "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
    "<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" profiles=\"urn:mpeg:dash:profile:isoff-live:2011\" type=\"static\" "
    "mediaPresentationDuration=\"PT12.000S\" minBufferTime=\"PT4S\">\n  <Period id=\"0\" start=\"PT0S\">\n"
    "    <AdaptationSet id=\"0\" contentType=\"video\" mimeType=\"video/mp4\">\n"
    "      <Representation id=\"720p\" bandwidth=\"900000\" codecs=\"avc1.64001f\" width=\"1280\" height=\"720\">\n"
    "        <SegmentTemplate timescale=\"1000\" initialization=\"720p/init.mp4\" media=\"720p/seg_$Number%05d$.m4s\" "
    "startNumber=\"1\">\n          <SegmentTimeline>\n            <S t=\"0\" d=\"4000\" r=\"2\"/>\n"
    "          </SegmentTimeline>\n        </SegmentTemplate>\n      </Representation>\n    </AdaptationSet>\n"
    "    <AdaptationSet id=\"1\" contentType=\"audio\" mimeType=\"audio/mp4\">\n"
    "      <Representation id=\"audio\" bandwidth=\"128000\" codecs=\"mp4a.40.2\" audioSamplingRate=\"48000\">\n"
    "        <SegmentTemplate timescale=\"48000\" initialization=\"audio/init.mp4\" "
    "media=\"audio/seg_$Number%05d$.m4s\" "
    "startNumber=\"1\">\n          <SegmentTimeline>\n            <S t=\"0\" d=\"192000\"/>\n"
    "            <S t=\"192000\" d=\"96000\"/>\n          </SegmentTimeline>\n        </SegmentTemplate>\n"
    "      </Representation>\n    </AdaptationSet>\n  </Period>\n</MPD>\n";

std::string fetch(const std::string& url) { return s3test::run("curl -s -f --max-time 20 " + s3test::quoted(url)); }

std::string unescape(std::string s) {
  for (std::size_t p; (p = s.find("&amp;")) != std::string::npos;) s.replace(p, 5, "&");
  return s;
}

}  // namespace

TEST_CASE("A private package plays through presigned playlists and a SegmentList MPD", "[s3][presign]") {
  auto server = s3test::s3rver_service::start();  // checks every request's signature
  auto client = std::make_shared<s3_client>(s3test::options_for(server.endpoint, "S3RVER", "S3RVER"));
  s3test::create_bucket(*client, "private");

  std::map<std::string, std::string> files;  // name -> bytes
  for (int i = 1; i <= 3; ++i) files["720p/" + fmt_seg(i)] = "video segment " + std::to_string(i);
  for (int i = 1; i <= 2; ++i) files["audio/" + fmt_seg(i)] = "audio segment " + std::to_string(i);
  files["720p/init.mp4"] = "video init";
  files["audio/init.mp4"] = "audio init";
  {
    auto sink = open_s3_package(client, "private/lectures/one", false);
    REQUIRE(sink.has_value());
    for (const auto& [name, bytes] : files)
      REQUIRE_FALSE((*sink)->put(name, std::as_bytes(std::span(bytes.data(), bytes.size()))));
    REQUIRE_FALSE((*sink)->put_manifest("720p/index.m3u8", media_playlist(3)));
    REQUIRE_FALSE((*sink)->put_manifest("audio/index.m3u8", media_playlist(2)));
    REQUIRE_FALSE((*sink)->put_manifest("master.m3u8", master_text));
    REQUIRE_FALSE((*sink)->put_manifest("manifest.mpd", mpd_text));
    REQUIRE_FALSE((*sink)->put_manifest("result.json", "{}\n"));
    REQUIRE_FALSE((*sink)->commit({}));
  }

  auto play = presign_playback(*client, {"private", "lectures/one"}, std::chrono::seconds(900),
                               "https://app.example/play/one/", wall_clock::now());
  REQUIRE(play.has_value());

  // The master names the host's copies of the media playlists.
  CHECK(play->master_playlist.find("\nhttps://app.example/play/one/720p/index.m3u8\n") != std::string::npos);
  CHECK(play->master_playlist.find("URI=\"https://app.example/play/one/audio/index.m3u8\"") != std::string::npos);
  REQUIRE(play->media_playlists.size() == 2);

  // HLS: each URI of each media playlist fetches the file that the original names at that place.
  for (const auto& [name, text] : play->media_playlists) {
    INFO(name);
    const std::string rendition = name.substr(0, name.find('/') + 1);
    std::vector<std::string> expected{rendition + "init.mp4"};
    for (int i = 1; i <= (rendition == "720p/" ? 3 : 2); ++i) expected.push_back(rendition + fmt_seg(i));
    std::vector<std::string> urls;
    std::regex map_uri("#EXT-X-MAP:URI=\"([^\"]+)\"");
    std::smatch m;
    REQUIRE(std::regex_search(text, m, map_uri));
    urls.push_back(m[1].str());
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
      if (!line.empty() && line[0] != '#') urls.push_back(line);
    REQUIRE(urls.size() == expected.size());
    for (std::size_t i = 0; i < urls.size(); ++i) {
      INFO(expected[i]);
      CHECK(urls[i].find("X-Amz-Signature=") != std::string::npos);
      CHECK(fetch(urls[i]) == files[expected[i]]);
    }
    CHECK(text.find("#EXTINF:4.000000,") != std::string::npos);
    CHECK(text.find("#EXT-X-ENDLIST") != std::string::npos);
  }

  // DASH: the same files, in timeline order, from Initialization and SegmentURL.
  CHECK(play->mpd.find("SegmentTemplate") == std::string::npos);
  CHECK(play->mpd.find("<S t=\"0\" d=\"4000\" r=\"2\"/>") != std::string::npos);
  std::vector<std::string> mpd_urls;
  std::regex url_attr("(?:sourceURL|media)=\"(http[^\"]+)\"");
  for (std::sregex_iterator it(play->mpd.begin(), play->mpd.end(), url_attr), end; it != end; ++it)
    mpd_urls.push_back(unescape((*it)[1].str()));
  const std::vector<std::string> order = {"720p/init.mp4",      "720p/" + fmt_seg(1), "720p/" + fmt_seg(2),
                                          "720p/" + fmt_seg(3), "audio/init.mp4",     "audio/" + fmt_seg(1),
                                          "audio/" + fmt_seg(2)};
  REQUIRE(mpd_urls.size() == order.size());
  for (std::size_t i = 0; i < order.size(); ++i) {
    INFO(order[i]);
    CHECK(fetch(mpd_urls[i]) == files[order[i]]);
  }
  // s3rver lets unsigned requests through, so what proves the signatures are checked is a refusal.
  std::string tampered = mpd_urls[1];
  auto sig = tampered.find("X-Amz-Signature=") + 16;
  tampered[sig] = tampered[sig] == '0' ? '1' : '0';
  CHECK(fetch(tampered).empty());
}
