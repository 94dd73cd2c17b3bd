#pragma once
// Internal: the little XML AWS answers need (S3 listings and errors, STS credentials, query-style
// error documents): the text of an element, and every element of a name. No namespaces, no nesting
// of the same name.
#include <spool/version.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace spool::inline SPOOL_ABI_NAMESPACE::aws {

/// The text of the first <tag>...</tag> in `xml`, entities decoded; empty when there is none.
std::optional<std::string> xml_text(std::string_view xml, std::string_view tag);
/// Every <tag>...</tag> block's content, in order, as it stands.
std::vector<std::string_view> xml_blocks(std::string_view xml, std::string_view tag);

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::aws
