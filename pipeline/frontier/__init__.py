"""The Redis frontier: seen URLs, per-host queues and schedule, leases and counters, kept by Lua scripts."""
