//! An empty Tauri window built exactly like `switchboard` (same tauri, features and profile),
//! showing an empty HTML page (rendered by a WebKit web process, as the console's page is): the
//! yardstick the desktop's memory is compared with in BENCHMARKS.md (`ui/e2e/bench-window.mjs`).

fn main() {
    let mut context = tauri::generate_context!("../tauri.conf.json");
    // None of the app's windows: one blank one instead.
    context.config_mut().app.windows.clear();
    tauri::Builder::default()
        .register_uri_scheme_protocol("blank", |_, _| {
            tauri::http::Response::builder().header("content-type", "text/html").body(b"<!doctype html><title>Empty</title>".to_vec()).expect("a response")
        })
        .setup(|app| {
            tauri::WebviewWindowBuilder::new(app, "main", tauri::WebviewUrl::CustomProtocol("blank://localhost/".parse()?)).title("Empty").inner_size(1280.0, 800.0).build()?;
            Ok(())
        })
        .run(context)
        .expect("an empty Tauri window");
}
