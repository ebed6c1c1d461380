fn main() {
    // The app's config lives at the repository root (tauri.conf.json), not in this crate.
    tauri_build::try_build(tauri_build::Attributes::new().config_path("../tauri.conf.json")).expect("tauri build step");
}
