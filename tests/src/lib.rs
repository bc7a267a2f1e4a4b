//! Shared helpers for the workspace-level tests live in `tests/tests/`; this library is intentionally empty.
