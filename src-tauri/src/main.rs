//! `switchboard`: the front desk's desktop console. A thin shell over console-core: the window
//! shows the UI in `ui/`, whose every question and action is one `console` command answered by
//! [`Desk::dispatch`]; the desk's events reach the window in batches (the `console` event); a
//! tray icon counts the conversations waiting for a person; a notification opens its
//! conversation when clicked. `switchboard --headless` runs the same core without a window
//! (sync, outbox, notifications) for a machine nobody looks at.

// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use console_core::alerts::DesktopNotifier;
use console_core::desk::{Command, Desk, DeskError};
use console_core::{EngineConfig, Event};
use serde_json::Value;
use tauri::menu::{Menu, MenuItem};
use tauri::tray::{TrayIcon, TrayIconBuilder};
use tauri::{AppHandle, Emitter, Manager};

/// Tauri's identifier (tauri.conf.json): the data directory's name, shared with --headless.
const IDENTIFIER: &str = "app.switchboard.console";
/// Events arriving within this window go to the UI as one batch.
const BATCH: Duration = Duration::from_millis(30);

struct Options {
    headless: bool,
    data_dir: PathBuf,
}

fn options() -> Options {
    let mut headless = false;
    let mut data_dir = std::env::var_os("SWITCHBOARD_CONSOLE_DATA_DIR").map(PathBuf::from);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--headless" => headless = true,
            "--data-dir" => data_dir = args.next().map(PathBuf::from),
            "--help" | "-h" => {
                println!("switchboard [--headless] [--data-dir DIR]\n  --headless   sync, send and notify without a window\n  --data-dir   where the local copy and outbox live\n  --version    print the version and exit");
                std::process::exit(0);
            }
            // Installers' smoke tests and support ask this first.
            "--version" | "-V" => {
                println!("switchboard {}", env!("CARGO_PKG_VERSION"));
                std::process::exit(0);
            }
            // Launchers (WebDriver, desktop files) may add their own; they are not ours to refuse.
            other => tracing::debug!(argument = other, "ignored"),
        }
    }
    let data_dir = data_dir.unwrap_or_else(|| dirs::data_dir().unwrap_or_else(|| PathBuf::from(".")).join(IDENTIFIER));
    Options { headless, data_dir }
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("SWITCHBOARD_LOG").unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    console_core::credentials::use_platform_store();
    #[cfg(target_os = "linux")]
    if std::env::var_os("WEBKIT_DISABLE_COMPOSITING_MODE").is_none() && std::env::var_os("SWITCHBOARD_WEBKIT_COMPOSITING").is_none() {
        // A console of text and lists gains nothing from WebKitGTK's accelerated compositing, and
        // it costs: the web process takes about twice the memory (measured in BENCHMARKS.md), and
        // some GPU drivers show a blank window with it. SWITCHBOARD_WEBKIT_COMPOSITING=1 keeps it.
        // Set before any thread starts (the WebKit processes inherit it).
        std::env::set_var("WEBKIT_DISABLE_COMPOSITING_MODE", "1");
    }
    let options = options();
    if options.headless {
        headless(options.data_dir)
    } else {
        window(options.data_dir)
    }
}

/// The desk, once the data directory is open. It opens while the window's web engine starts
/// and loads the page (cold start measured in BENCHMARKS.md): commands that come first wait.
#[derive(Clone)]
struct Opening(tokio::sync::watch::Receiver<Option<Arc<Desk>>>);

impl Opening {
    async fn desk(&self) -> Result<Arc<Desk>, DeskError> {
        let mut opened = self.0.clone();
        let desk = opened.wait_for(Option::is_some).await.ok().and_then(|d| d.clone());
        desk.ok_or_else(|| DeskError { kind: "local_store".into(), message: "The console's data could not be opened.".into(), code: None })
    }

    fn opened(&self) -> Option<Arc<Desk>> {
        self.0.borrow().clone()
    }
}

#[tauri::command]
async fn console(opening: tauri::State<'_, Opening>, command: Command) -> Result<Value, DeskError> {
    opening.desk().await?.dispatch(command).await
}

/// The `media:` scheme (`media://localhost/small/{message}/v1/media/{id}` on Linux and macOS,
/// `http://media.localhost/…` on Windows): the timeline's pictures as files the web engine
/// fetches and decodes itself, off the page's main thread, rather than base64 in a command's
/// answer. Only files this console shows are answered ([`Desk::serve`]).
fn media_scheme(ctx: tauri::UriSchemeContext<'_, tauri::Wry>, request: tauri::http::Request<Vec<u8>>, responder: tauri::UriSchemeResponder) {
    let opening = ctx.app_handle().try_state::<Opening>().map(|o| o.inner().clone());
    let address = request.uri().path().to_owned();
    tauri::async_runtime::spawn(async move {
        let answer = match opening {
            Some(opening) => match opening.desk().await {
                Ok(desk) => desk.serve(&address).await,
                Err(e) => Err(e),
            },
            None => Ok(None),
        };
        responder.respond(console_core::bridge::served(answer));
    });
}

fn window(data_dir: PathBuf) -> anyhow::Result<()> {
    tauri::Builder::default()
        .invoke_handler(tauri::generate_handler![console])
        .register_asynchronous_uri_scheme_protocol("media", media_scheme)
        .setup(move |app| {
            let (opened, opening) = tokio::sync::watch::channel(None);
            app.manage(Opening(opening));
            // The main window (tauri.conf.json, `create: false`) is made here so that files the
            // page saves (the reports' CSVs, a customer's data export) are downloaded: without a
            // download handler WebKitGTK started them and never wrote them anywhere. They go to
            // the Downloads folder, under a new name when one is taken.
            let config = app.config().app.windows.iter().find(|w| w.label == "main").cloned().ok_or("no main window in tauri.conf.json")?;
            // Where each download is put, by its address: the page is told when it is written
            // (on macOS the finished download does not say where it went).
            let places = std::sync::Mutex::new(std::collections::HashMap::<String, PathBuf>::new());
            tauri::WebviewWindowBuilder::from_config(app.handle(), &config)?
                .on_download(move |webview, event| {
                    let mut places = places.lock().unwrap_or_else(|e| e.into_inner());
                    match event {
                        tauri::webview::DownloadEvent::Requested { url, destination } => {
                            into_home_without_downloads(destination);
                            places.insert(url.to_string(), destination.clone());
                        }
                        tauri::webview::DownloadEvent::Finished { url, path, success } => {
                            let chosen = places.remove(url.as_str());
                            let path = path.or(chosen);
                            match (success, &path) {
                                (true, Some(path)) => tracing::info!(path = %path.display(), "saved a file"),
                                (true, None) => tracing::info!("saved a file"),
                                (false, _) => tracing::warn!("a file could not be saved"),
                            }
                            let told = serde_json::json!({"url": url.as_str(), "saved": success, "path": path.map(|p| p.display().to_string())});
                            let _ = webview.emit("file_saved", told);
                        }
                        _ => {}
                    }
                    true
                })
                .build()?;
            let clicked = app.handle().clone();
            let reports = app.handle().clone();
            let notifier =
                DesktopNotifier::on_open(move |conversation| open_conversation(&clicked, &conversation)).on_reports(move || open_reports(&reports));
            let tray = tray(app.handle())?;
            let app = app.handle().clone();
            tauri::async_runtime::spawn(async move {
                match Desk::open(&data_dir, Some(Arc::new(notifier)), EngineConfig::default()).await {
                    Ok(desk) => {
                        opened.send_replace(Some(desk.clone()));
                        forward(app, desk, tray).await;
                    }
                    Err(e) => {
                        tracing::error!("the console's data could not be opened: {e}");
                        eprintln!("switchboard: the console's data in {} could not be opened: {e}", data_dir.display());
                        app.exit(1);
                    }
                }
            });
            Ok(())
        })
        .build(tauri::generate_context!("../tauri.conf.json"))?
        .run(|app, event| {
            if let tauri::RunEvent::Exit = event {
                if let Some(desk) = app.try_state::<Opening>().and_then(|o| o.opened()) {
                    tauri::async_runtime::block_on(desk.stop());
                }
            }
        });
    Ok(())
}

/// The download's place as chosen for it (the Downloads folder, under a new name if the name is
/// taken) — but where the system names no Downloads folder, the home folder rather than wherever
/// the app was started from.
fn into_home_without_downloads(destination: &mut PathBuf) {
    if dirs::download_dir().is_some() {
        return;
    }
    let (Some(home), Some(name)) = (dirs::home_dir(), destination.file_name().map(|n| n.to_owned())) else { return };
    let name = PathBuf::from(name);
    let (stem, ext) = (name.file_stem().unwrap_or_default().to_string_lossy().into_owned(), name.extension().map(|e| format!(".{}", e.to_string_lossy())).unwrap_or_default());
    let mut place = home.join(&name);
    for n in 1.. {
        if !place.exists() {
            break;
        }
        place = home.join(format!("{stem} ({n}){ext}"));
    }
    *destination = place;
}

fn show(app: &AppHandle) {
    if let Some(window) = app.get_webview_window("main") {
        let _ = window.show();
        let _ = window.unminimize();
        let _ = window.set_focus();
    }
}

/// A notification was clicked: bring the window up on that conversation.
fn open_conversation(app: &AppHandle, conversation: &str) {
    show(app);
    let _ = app.emit("open_conversation", conversation);
}

/// The weekly summary's notification was clicked: bring the window up on the Reports screen.
fn open_reports(app: &AppHandle) {
    show(app);
    let _ = app.emit("open_reports", ());
}

fn tray(app: &AppHandle) -> tauri::Result<TrayIcon> {
    let open = MenuItem::with_id(app, "open", "Open Switchboard", true, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", "Quit", true, None::<&str>)?;
    let menu = Menu::with_items(app, &[&open, &quit])?;
    let mut builder = TrayIconBuilder::with_id("main").tooltip("Switchboard").menu(&menu).on_menu_event(|app, event| match event.id.as_ref() {
        "open" => show(app),
        "quit" => app.exit(0),
        _ => {}
    });
    if let Some(icon) = app.default_window_icon() {
        builder = builder.icon(icon.clone());
    }
    builder.build(app)
}

/// Desk events → the window, batched; the tray's count follows every change.
async fn forward(app: AppHandle, desk: Arc<Desk>, tray: TrayIcon) {
    let mut events = desk.subscribe();
    let mut waiting = None;
    loop {
        let first = match events.recv().await {
            Ok(event) => event,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => Event::Changed { entities: vec![], resync: true },
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        };
        let mut batch = vec![first];
        let deadline = tokio::time::Instant::now() + BATCH;
        loop {
            match tokio::time::timeout_at(deadline, events.recv()).await {
                Ok(Ok(more)) => batch.push(more),
                // Missed some: the window reloads everything.
                Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => batch.push(Event::Changed { entities: vec![], resync: true }),
                Ok(Err(tokio::sync::broadcast::error::RecvError::Closed)) | Err(_) => break,
            }
        }
        let counts_changed = batch.iter().any(|e| matches!(e, Event::Changed { .. } | Event::Outbox));
        let _ = app.emit("console", &batch);
        if counts_changed {
            let count = desk.dispatch(Command::NeedsHumanCount).await.ok().and_then(|v| v.as_i64()).unwrap_or(0);
            if waiting != Some(count) {
                waiting = Some(count);
                let label = match count {
                    0 => "Switchboard".to_owned(),
                    1 => "Switchboard — 1 customer waiting for a person".to_owned(),
                    n => format!("Switchboard — {n} customers waiting for a person"),
                };
                let _ = tray.set_tooltip(Some(&label));
                // Shown beside the icon where the tray supports it (Linux app indicators).
                let _ = tray.set_title(if count > 0 { Some(count.to_string()) } else { None });
            }
        }
    }
}

/// No window: keep the mirror in sync, send what is queued, notify. Status lines go to stdout.
fn headless(data_dir: PathBuf) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(async {
        let desk = Desk::open(&data_dir, Some(Arc::new(DesktopNotifier::new())), EngineConfig::default()).await?;
        // Listen before asking for the session: the sync may go live in between, and that status
        // is then either in the session's answer or among the events (before, it could be in
        // neither, and a script waiting for "live" waited for the next change).
        let mut events = desk.subscribe();
        let session = desk.dispatch(Command::Session).await?;
        if session["account"].is_null() {
            anyhow::bail!("nobody is signed in on {}: sign in in the window, or with `switchboard-console --data-dir {} login`", data_dir.display(), data_dir.display());
        }
        println!("{}", serde_json::json!({"signed_in": session["account"]["email"], "data_dir": data_dir}));
        if !session["status"].is_null() {
            println!("{}", serde_json::json!({"type": "status", "status": session["status"]}));
        }
        loop {
            tokio::select! {
                event = events.recv() => match event {
                    Ok(event @ (Event::Status { .. } | Event::Alert { .. })) => println!("{}", serde_json::to_string(&event)?),
                    Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                },
                _ = tokio::signal::ctrl_c() => break,
            }
        }
        desk.stop().await;
        Ok(())
    })
}
