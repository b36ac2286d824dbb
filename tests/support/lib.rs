//! Shared harness code for the workspace-level tests.
#![forbid(unsafe_code)]
