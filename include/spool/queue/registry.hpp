#pragma once
// Backends chosen by URI scheme: mem://name, file:///absolute/path.db, and whatever an integrator
// registers. Built-in schemes register through the same call.
#include <spool/queue/adapter.hpp>

#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace spool::queue {

/// Opens a backend for `uri`; on failure returns the error and may say why in `detail`.
using adapter_factory =
    std::function<error_code(std::string_view uri, std::shared_ptr<queue_adapter>& out, std::string& detail)>;

/// Adds a scheme ("redis" for redis://...). errc::invalid_spec if the scheme is taken or malformed.
error_code register_scheme(const std::string& scheme, adapter_factory factory);
/// Opens `uri` with the factory registered for its scheme. An unknown scheme is errc::invalid_spec.
error_code open(std::string_view uri, std::shared_ptr<queue_adapter>& out, std::string* detail = nullptr);

/// The in-process backend (mem://name): every open of the same name shares one queue.
std::shared_ptr<queue_adapter> make_memory_queue(const std::string& name);
/// The durable backend: SQLite in WAL mode with synchronous=FULL at `path` (created if missing).
error_code make_file_queue(const std::string& path, std::shared_ptr<queue_adapter>& out, std::string* detail = nullptr);

}  // namespace spool::queue
