//! DATA throughput benchmarks (placeholder; filled in below).

fn main() {}
