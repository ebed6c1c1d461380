//! An empty Tauri window built exactly like `switchboard` (same tauri, features and profile),
//! showing a blank page: the yardstick the desktop's memory is compared with in BENCHMARKS.md
//! (`ui/e2e/bench-window.mjs` builds and runs it).

fn main() {
    let mut context = tauri::generate_context!("../tauri.conf.json");
    // None of the app's windows: one blank one instead.
    context.config_mut().app.windows.clear();
    tauri::Builder::default()
        .setup(|app| {
            tauri::WebviewWindowBuilder::new(app, "main", tauri::WebviewUrl::External("about:blank".parse()?)).title("Empty").inner_size(1280.0, 800.0).build()?;
            Ok(())
        })
        .run(context)
        .expect("an empty Tauri window");
}
