//! `sqlx::migrate!` embeds `migrations/` when the crate compiles; this tells cargo to compile
//! it again when a migration is added or changed, not only when a source file is.
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
