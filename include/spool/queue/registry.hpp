#pragma once
// Backends chosen by URI scheme: mem://name, file:///absolute/path.db, and whatever an integrator
// registers. Built-in schemes register through the same call.
#include <spool/queue/adapter.hpp>
#include <spool/queue/time_source.hpp>

#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace spool::queue {

/// Opens a backend for `uri`; on failure returns the error and may say why in `detail`.
using adapter_factory =
    std::function<error_code(std::string_view uri, std::shared_ptr<queue_adapter>& out, std::string& detail)>;

/// Adds a scheme ("redis" for redis://...). errc::already_registered if the scheme is taken,
/// errc::invalid_argument if it is malformed or the factory is empty.
error_code register_scheme(const std::string& scheme, adapter_factory factory);
/// Opens `uri` with the factory registered for its scheme. An unknown scheme is errc::invalid_spec.
error_code open(std::string_view uri, std::shared_ptr<queue_adapter>& out, std::string* detail = nullptr);

/// The in-process backend (mem://name): every open of the same name shares one queue.
std::shared_ptr<queue_adapter> make_memory_queue(const std::string& name);
/// An in-process queue of its own (no name, not shared) reading `time` (null: the machine's clocks).
std::shared_ptr<queue_adapter> make_memory_queue(std::shared_ptr<const time_source> time);
/// The durable backend: SQLite in WAL mode with synchronous=FULL at `path` (created if missing),
/// reading `time` (null: the machine's clocks).
error_code make_file_queue(const std::string& path, std::shared_ptr<queue_adapter>& out, std::string* detail = nullptr,
                           std::shared_ptr<const time_source> time = nullptr);

}  // namespace spool::queue
