//! Link layout only: ask the linker to keep `.text.startup` / `.text.unlikely` / `.text.hot`
//! input sections in groups of their own instead of interleaving them with the rest of `.text`.
//! RocksDB's C++ static initialisers (GCC puts them in `.text.startup.*`) then sit together
//! instead of touching a page in almost every 64 KB block of RocksDB's code at start-up, which
//! the kernel's fault-around would map into the process even in `-dev`, where RocksDB is unused.
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,keep-text-section-prefix");
    }
}
