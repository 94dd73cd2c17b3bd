#pragma once
// Presigned S3 URLs: a GET or PUT anyone holding the URL may make until it expires, and multipart
// uploads of large files (create the upload, presign each part, complete it with the parts' ETags).
#include <spool/aws/s3.hpp>
#include <spool/error.hpp>
#include <spool/version.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace spool::inline SPOOL_ABI_NAMESPACE::aws {

/// The longest a SigV4 presigned URL may live: 7 days.
inline constexpr std::chrono::seconds max_presign_expiry{7 * 24 * 3600};

struct SPOOL_API presign_options {
  std::string method = "GET";          ///< "GET" or "PUT"
  std::chrono::seconds expires{3600};  ///< capped at max_presign_expiry (with a warning)
  /// PUT: the Content-Type the uploader must send (it is signed); empty: none is signed.
  std::string content_type;
};

struct SPOOL_API presigned_url {
  std::string url;
  std::chrono::seconds expires{0};  ///< as signed, after the cap
  /// Headers the user of the URL must send exactly (a signed Content-Type).
  std::vector<std::pair<std::string, std::string>> headers;
  /// Why the URL may stop working earlier than asked (the cap; credentials that expire sooner).
  std::vector<std::string> warnings;
};

/// Presigns `uri` ("s3://bucket/key") with `store_options` (region, endpoint, credentials).
SPOOL_API result<presigned_url> presign(const s3_options& store_options, std::string_view uri,
                                        const presign_options& options);

/// A multipart upload's part size for a file of `size` bytes: S3 takes at most 10,000 parts of 5 MiB
/// to 5 GiB each (the last may be smaller), objects up to 5 TiB.
struct SPOOL_API part_plan {
  std::int64_t part_size = 0;
  int parts = 0;
};
SPOOL_API result<part_plan> choose_part_size(std::int64_t size);

struct SPOOL_API presigned_upload {
  std::string upload_id;
  part_plan plan;
  std::vector<std::string> part_urls;  ///< part n (1-based) is part_urls[n - 1]
  std::string complete_url;            ///< POST <CompleteMultipartUpload> with the parts' ETags here
  std::string abort_url;               ///< DELETE here to give up
  std::chrono::seconds expires{0};
  std::vector<std::string> warnings;
};

/// Creates a multipart upload for a file of `size` bytes at `uri` and presigns its parts, its
/// completion and its abort. `options.content_type` becomes the object's Content-Type.
SPOOL_API result<presigned_upload> presign_multipart_upload(const s3_options& store_options, std::string_view uri,
                                                            std::int64_t size, const presign_options& options);

/// A package in a private bucket made playable without credentials: the HLS media playlists and the
/// MPD rewritten so that every segment and init segment is a presigned URL. The host serves these
/// texts itself (they are not written to the bucket).
struct SPOOL_API private_playback {
  /// The master playlist; its media playlist URIs are the package's own ("720p/index.m3u8"), or
  /// `playlist_base` + those when one is given, where the host serves `media_playlists`.
  std::string master_playlist;
  /// "720p/index.m3u8" -> the playlist with its init and segment URIs presigned.
  std::map<std::string, std::string> media_playlists;
  /// The MPD with each SegmentTemplate turned into a SegmentList of presigned URLs; empty when the
  /// package has no MPD.
  std::string mpd;
  std::chrono::seconds expires{0};
  std::vector<std::string> warnings;
};

/// Reads the package's master.m3u8 (and manifest.mpd, when there is one) at `package_uri`
/// ("s3://bucket/prefix") and presigns every file they name for `expires`.
SPOOL_API result<private_playback> presign_playback(const s3_options& store_options, std::string_view package_uri,
                                                    std::chrono::seconds expires, std::string_view playlist_base = {});

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::aws
