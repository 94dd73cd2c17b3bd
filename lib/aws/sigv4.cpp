// AWS Signature Version 4.
#include "aws/sigv4.hpp"

#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <ctime>
#include <map>
#include <utility>
#include <vector>

namespace spool::inline SPOOL_ABI_NAMESPACE::aws::sigv4 {
namespace {

constexpr std::string_view algorithm = "AWS4-HMAC-SHA256";

std::string hex(const unsigned char* data, std::size_t n) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out(n * 2, '\0');
  for (std::size_t i = 0; i < n; ++i) {
    out[2 * i] = digits[data[i] >> 4];
    out[2 * i + 1] = digits[data[i] & 0xf];
  }
  return out;
}

using digest = std::array<unsigned char, SHA256_DIGEST_LENGTH>;

digest hmac(std::string_view key, std::string_view data) {
  digest out{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), out.data(), &len);
  return out;
}

std::string_view as_view(const digest& d) { return {reinterpret_cast<const char*>(d.data()), d.size()}; }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// %XX sequences become bytes; anything else (a lone '%', '+') stays as it is.
std::string percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

struct url_parts {
  std::string scheme, host;  // host with ":port" when the URL gives a non-default one
  std::string path;          // as on the wire, "/" when empty
  std::string query;         // without '?'
};

url_parts split(std::string_view url) {
  url_parts p;
  auto scheme_end = url.find("://");
  std::size_t rest = 0;
  if (scheme_end != std::string_view::npos) {
    p.scheme = std::string(url.substr(0, scheme_end));
    rest = scheme_end + 3;
  }
  auto path_start = url.find_first_of("/?#", rest);
  std::string_view authority = url.substr(rest, path_start == std::string_view::npos ? url.npos : path_start - rest);
  if (auto at = authority.rfind('@'); at != std::string_view::npos) authority.remove_prefix(at + 1);
  std::string host(authority);
  std::transform(host.begin(), host.end(), host.begin(), [](unsigned char c) { return std::tolower(c); });
  auto colon = host.rfind(':');
  if (colon != std::string::npos && host.find(']', colon) == std::string::npos) {
    auto port = host.substr(colon + 1);
    if ((p.scheme == "https" && port == "443") || (p.scheme == "http" && port == "80")) host.resize(colon);
  }
  p.host = std::move(host);
  if (path_start == std::string_view::npos) {
    p.path = "/";
    return p;
  }
  std::string_view tail = url.substr(path_start);
  if (auto hash = tail.find('#'); hash != std::string_view::npos) tail = tail.substr(0, hash);
  auto q = tail.find('?');
  p.path = std::string(tail.substr(0, q));
  if (p.path.empty()) p.path = "/";
  if (q != std::string_view::npos) p.query = std::string(tail.substr(q + 1));
  return p;
}

// RFC 3986 dot-segment removal, with empty segments dropped: what AWS services other than S3 sign.
std::string normalize_path(std::string_view path) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i <= path.size()) {
    auto slash = path.find('/', i);
    auto seg = path.substr(i, slash == std::string_view::npos ? path.npos : slash - i);
    if (seg == "..") {
      if (!out.empty()) out.pop_back();
    } else if (!seg.empty() && seg != ".") {
      out.push_back(seg);
    }
    if (slash == std::string_view::npos) break;
    i = slash + 1;
  }
  std::string result;
  for (auto seg : out) {
    result += '/';
    result += seg;
  }
  bool trailing = !path.empty() && (path.back() == '/' || path.ends_with("/.") || path.ends_with("/.."));
  if (result.empty() || trailing) result += '/';
  return result;
}

std::string canonical_query(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> params;
  std::size_t i = 0;
  while (i < query.size()) {
    auto amp = query.find('&', i);
    auto pair = query.substr(i, amp == std::string_view::npos ? query.npos : amp - i);
    if (!pair.empty()) {
      auto eq = pair.find('=');
      auto name = pair.substr(0, eq);
      auto value = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
      params.emplace_back(uri_encode(percent_decode(name), false), uri_encode(percent_decode(value), false));
    }
    if (amp == std::string_view::npos) break;
    i = amp + 1;
  }
  std::sort(params.begin(), params.end());
  std::string out;
  for (const auto& [name, value] : params) {
    if (!out.empty()) out += '&';
    out += name;
    out += '=';
    out += value;
  }
  return out;
}

// Leading and trailing blanks dropped, inner runs of blanks made one space.
std::string canonical_value(std::string_view v) {
  std::string out;
  bool blank = false;
  for (char c : v) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      blank = !out.empty();
      continue;
    }
    if (blank) out += ' ';
    blank = false;
    out += c;
  }
  return out;
}

struct canonical_parts {
  std::string text;
  std::string signed_headers;
};

canonical_parts make_canonical(std::string_view method, const url_parts& url, const http_headers& headers,
                               std::string_view payload_hash, std::string_view service) {
  std::map<std::string, std::string> canon;
  for (const auto& h : headers) {
    std::string name = h.name;
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    auto value = canonical_value(h.value);
    auto [it, fresh] = canon.emplace(name, value);
    if (!fresh) it->second += "," + value;
  }
  canonical_parts out;
  out.text.reserve(256);
  out.text += method;
  out.text += '\n';
  out.text += service == "s3" ? url.path : uri_encode(normalize_path(url.path), true);
  out.text += '\n';
  out.text += canonical_query(url.query);
  out.text += '\n';
  for (const auto& [name, value] : canon) {
    out.text += name + ":" + value + "\n";
    if (!out.signed_headers.empty()) out.signed_headers += ';';
    out.signed_headers += name;
  }
  out.text += '\n';
  out.text += out.signed_headers;
  out.text += '\n';
  out.text += payload_hash;
  return out;
}

std::string signature(const credentials& creds, const scope& where, std::string_view date,
                      std::string_view string_to_sign) {
  auto k_date = hmac("AWS4" + creds.secret_access_key, date);
  auto k_region = hmac(as_view(k_date), where.region);
  auto k_service = hmac(as_view(k_region), where.service);
  auto k_signing = hmac(as_view(k_service), "aws4_request");
  auto sig = hmac(as_view(k_signing), string_to_sign);
  return hex(sig.data(), sig.size());
}

std::string credential_scope(std::string_view date, const scope& where) {
  return std::string(date) + "/" + where.region + "/" + where.service + "/aws4_request";
}

std::string string_to_sign(std::string_view stamp, std::string_view scope_text, std::string_view canonical) {
  return std::string(algorithm) + "\n" + std::string(stamp) + "\n" + std::string(scope_text) + "\n" +
         sha256_hex(canonical);
}

}  // namespace

std::string sha256_hex(std::string_view data) {
  digest d{};
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), d.data());
  return hex(d.data(), d.size());
}

std::string uri_encode(std::string_view s, bool keep_slash) {
  static constexpr char digits[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() * 3 / 2);
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || (keep_slash && c == '/')) {
      out += ch;
    } else {
      out += '%';
      out += digits[c >> 4];
      out += digits[c & 0xf];
    }
  }
  return out;
}

std::string amz_date(wall_clock::time_point t) {
  std::time_t tt = wall_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  std::array<char, 20> buf{};
  std::strftime(buf.data(), buf.size(), "%Y%m%dT%H%M%SZ", &tm);
  return buf.data();
}

std::string canonical_request(const http_request& request, std::string_view payload_hash, std::string_view service) {
  return make_canonical(request.method, split(request.url), request.headers, payload_hash, service).text;
}

void sign(http_request& request, std::string_view payload_hash, const credentials& creds, const scope& where,
          wall_clock::time_point now) {
  auto url = split(request.url);
  auto stamp = amz_date(now);
  auto date = stamp.substr(0, 8);
  set_header(request.headers, "Host", url.host);
  set_header(request.headers, "X-Amz-Date", stamp);
  if (!creds.session_token.empty()) set_header(request.headers, "X-Amz-Security-Token", creds.session_token);
  if (where.service == "s3") set_header(request.headers, "X-Amz-Content-Sha256", std::string(payload_hash));
  // Authorization itself is never signed (a retry signs afresh over the previous attempt's headers).
  http_headers to_sign;
  to_sign.reserve(request.headers.size());
  for (const auto& h : request.headers)
    if (find_header({h}, "Authorization").empty()) to_sign.push_back(h);
  auto canon = make_canonical(request.method, url, to_sign, payload_hash, where.service);
  auto scope_text = credential_scope(date, where);
  auto sig = signature(creds, where, date, string_to_sign(stamp, scope_text, canon.text));
  set_header(request.headers, "Authorization",
             std::string(algorithm) + " Credential=" + creds.access_key_id + "/" + scope_text +
                 ", SignedHeaders=" + canon.signed_headers + ", Signature=" + sig);
}

std::string presign(std::string_view method, std::string_view url, std::chrono::seconds expires,
                    const credentials& creds, const scope& where, wall_clock::time_point now,
                    const http_headers& headers) {
  auto parts = split(url);
  auto stamp = amz_date(now);
  auto date = stamp.substr(0, 8);
  auto scope_text = credential_scope(date, where);
  http_headers signed_headers = headers;
  set_header(signed_headers, "Host", parts.host);
  std::string names;
  {
    std::vector<std::string> lower;
    for (const auto& h : signed_headers) {
      std::string n = h.name;
      std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return std::tolower(c); });
      lower.push_back(std::move(n));
    }
    std::sort(lower.begin(), lower.end());
    lower.erase(std::unique(lower.begin(), lower.end()), lower.end());
    for (const auto& n : lower) names += (names.empty() ? "" : ";") + n;
  }
  std::string added = "X-Amz-Algorithm=" + std::string(algorithm) +
                      "&X-Amz-Credential=" + uri_encode(creds.access_key_id + "/" + scope_text, false) +
                      "&X-Amz-Date=" + stamp + "&X-Amz-Expires=" + std::to_string(expires.count()) +
                      "&X-Amz-SignedHeaders=" + uri_encode(names, false);
  if (!creds.session_token.empty()) added += "&X-Amz-Security-Token=" + uri_encode(creds.session_token, false);
  parts.query = parts.query.empty() ? added : parts.query + "&" + added;
  auto canon = make_canonical(method, parts, signed_headers, unsigned_payload, where.service);
  auto sig = signature(creds, where, date, string_to_sign(stamp, scope_text, canon.text));
  std::string base(url.substr(0, url.find_first_of("?#")));
  return base + "?" + parts.query + "&X-Amz-Signature=" + sig;
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::aws::sigv4
