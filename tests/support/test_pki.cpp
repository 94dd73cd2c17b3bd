#include "test_pki.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>

namespace spool::inline SPOOL_ABI_NAMESPACE::test {

namespace {

namespace fs = std::filesystem;

using key_ptr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using cert_ptr = std::unique_ptr<X509, decltype(&X509_free)>;

void require(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("test PKI: ") + what + " failed");
}

key_ptr new_key() {
  key_ptr key(EVP_EC_gen("P-256"), &EVP_PKEY_free);
  require(key != nullptr, "EC key generation");
  return key;
}

void add_ext(X509* cert, X509V3_CTX* ctx, int nid, const char* value) {
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, ctx, nid, value);
  require(ext != nullptr, value);
  require(X509_add_ext(cert, ext, -1) == 1, "X509_add_ext");
  X509_EXTENSION_free(ext);
}

// A certificate for `key` named `cn`, signed by `issuer` (self-signed when null).
cert_ptr make_cert(EVP_PKEY* key, const char* cn, const char* san, X509* issuer, EVP_PKEY* issuer_key, bool ca) {
  cert_ptr cert(X509_new(), &X509_free);
  require(cert != nullptr, "X509_new");
  X509* x = cert.get();
  require(X509_set_version(x, 2) == 1, "X509_set_version");
  unsigned char serial[8];
  require(RAND_bytes(serial, sizeof serial) == 1, "RAND_bytes");
  serial[0] &= 0x7f;  // positive
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  require(bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)), "serial number");
  BN_free(bn);
  require(X509_gmtime_adj(X509_getm_notBefore(x), -3600) && X509_gmtime_adj(X509_getm_notAfter(x), 86400), "validity");
  require(X509_set_pubkey(x, key) == 1, "X509_set_pubkey");
  X509_NAME* name = X509_get_subject_name(x);
  require(X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("spool tests"), -1,
                                     -1, 0) == 1 &&
              X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn), -1, -1,
                                         0) == 1,
          "subject name");
  require(X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name) == 1, "issuer name");

  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer ? issuer : x, x, nullptr, nullptr, 0);
  add_ext(x, &ctx, NID_basic_constraints, ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
  add_ext(x, &ctx, NID_key_usage, ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature");
  add_ext(x, &ctx, NID_subject_key_identifier, "hash");
  add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always");
  if (!ca) add_ext(x, &ctx, NID_ext_key_usage, "serverAuth");
  if (san) add_ext(x, &ctx, NID_subject_alt_name, san);
  require(X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()) > 0, "X509_sign");
  return cert;
}

void write_cert(const fs::path& path, X509* cert) {
  std::unique_ptr<FILE, decltype(&std::fclose)> f(std::fopen(path.c_str(), "w"), &std::fclose);
  require(f && PEM_write_X509(f.get(), cert) == 1, "writing a certificate");
}

void write_key(const fs::path& path, EVP_PKEY* key) {
  std::unique_ptr<FILE, decltype(&std::fclose)> f(std::fopen(path.c_str(), "w"), &std::fclose);
  require(f && PEM_write_PrivateKey(f.get(), key, nullptr, nullptr, 0, nullptr, nullptr) == 1, "writing a key");
}

}  // namespace

test_pki make_test_pki(const fs::path& dir) {
  constexpr const char* local_names = "DNS:localhost,IP:127.0.0.1,IP:::1";
  test_pki p;
  p.ca_cert = dir / "test-ca.pem";
  p.server_cert = dir / "server.pem";
  p.server_key = dir / "server.key";
  p.self_signed_cert = dir / "self-signed.pem";
  p.self_signed_key = dir / "self-signed.key";
  p.other_cert = dir / "other.pem";
  p.other_key = dir / "other.key";

  auto ca_key = new_key();
  auto ca = make_cert(ca_key.get(), "spool test CA", nullptr, nullptr, nullptr, true);
  write_cert(p.ca_cert, ca.get());

  auto server_key = new_key();
  write_cert(p.server_cert, make_cert(server_key.get(), "localhost", local_names, ca.get(), ca_key.get(), false).get());
  write_key(p.server_key, server_key.get());

  auto self_key = new_key();
  write_cert(p.self_signed_cert, make_cert(self_key.get(), "localhost", local_names, nullptr, nullptr, false).get());
  write_key(p.self_signed_key, self_key.get());

  auto other_key = new_key();
  write_cert(p.other_cert,
             make_cert(other_key.get(), "other.invalid", "DNS:other.invalid", ca.get(), ca_key.get(), false).get());
  write_key(p.other_key, other_key.get());
  return p;
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::test
