// Cargo reads a package's build-dependencies only when it has a build script:
// the host-side features (syn, proc-macro2) are unified through them.
fn main() {}
