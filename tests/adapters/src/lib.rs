//! Harness for the adapter tests.
