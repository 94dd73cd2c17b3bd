#pragma once
// Backends chosen by URI scheme: mem://name, file:///absolute/path.db, and whatever an integrator
// registers. The built-in backends register their schemes through the same register_scheme call,
// and each parses its own URIs.
#include <spool/queue/adapter.hpp>
#include <spool/queue/time_source.hpp>
#include <spool/version.hpp>

#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace spool::inline SPOOL_ABI_NAMESPACE::queue {

/// Opens a backend for `uri` (whose scheme is the one it was registered for). A URI the backend
/// cannot take is errc::invalid_argument, with the reason in the message.
using adapter_factory = std::function<result<std::shared_ptr<queue_adapter>>(std::string_view uri)>;

/// Adds a scheme ("redis" for redis://...); schemes match without regard to case.
/// errc::already_registered if the scheme is taken, errc::invalid_argument if it is malformed or the
/// factory is empty.
SPOOL_API error register_scheme(std::string_view scheme, adapter_factory factory);

/// Opens the queue `uri` names, with the factory registered for its scheme. A URI without a
/// registered scheme is errc::invalid_argument.
SPOOL_API result<std::shared_ptr<queue_adapter>> open_queue(std::string_view uri);

/// The in-process backend (mem://name): every open of the same name shares one queue.
SPOOL_API std::shared_ptr<queue_adapter> make_memory_queue(const std::string& name);
/// An in-process queue of its own (no name, not shared) reading `time` (null: the machine's clocks).
SPOOL_API std::shared_ptr<queue_adapter> make_memory_queue(std::shared_ptr<const time_source> time);
/// The durable backend: SQLite in WAL mode with synchronous=FULL at `path` (created if missing),
/// reading `time` (null: the machine's clocks). A relative path, a directory, or a file that is not a
/// spool queue is errc::invalid_argument.
SPOOL_API result<std::shared_ptr<queue_adapter>> make_file_queue(const std::string& path,
                                                                 std::shared_ptr<const time_source> time = nullptr);

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::queue
