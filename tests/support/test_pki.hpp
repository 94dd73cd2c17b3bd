#pragma once
// Certificates for the https tests, generated at test time with OpenSSL's C API (EC P-256, valid
// for a day). Nothing here is committed: every test writes its own into its scratch directory.
#include <spool/version.hpp>

#include <filesystem>

namespace spool::inline SPOOL_ABI_NAMESPACE::test {

struct test_pki {
  std::filesystem::path ca_cert;                            ///< the test CA; trust it through https_ca_file
  std::filesystem::path server_cert, server_key;            ///< signed by the CA for localhost, 127.0.0.1 and ::1
  std::filesystem::path self_signed_cert, self_signed_key;  ///< the same names, signed by nobody
  std::filesystem::path other_cert, other_key;              ///< signed by the CA for other.invalid only
};

/// Writes a fresh CA and server certificates (PEM) into `dir`. Throws std::runtime_error.
test_pki make_test_pki(const std::filesystem::path& dir);

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::test
