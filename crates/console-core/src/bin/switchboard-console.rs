//! `switchboard-console`: the console core without a window, for headless machines, scripts and
//! tests. Every verb works on a data directory; a verb that needs the service queues its action
//! when the service cannot be reached, and says so.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use console_core::queries::{Handler, InboxFilter, InboxQuery};
use console_core::{Console, ConsoleError, EngineConfig, Event};

#[derive(Parser)]
#[command(name = "switchboard-console", version, about = "Switchboard's console core, without a window")]
struct Cli {
    /// Where this console keeps its local copy and outbox.
    #[arg(long, env = "SWITCHBOARD_CONSOLE_DATA_DIR")]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    verb: Verb,
}

#[derive(Clone, Copy, ValueEnum)]
enum Filter {
    All,
    NeedsHuman,
    Mine,
    Assistant,
    Resolved,
}

#[derive(Subcommand)]
enum Verb {
    /// Sign in (the refresh token goes to the system keyring).
    Login {
        #[arg(long)]
        server: String,
        #[arg(long)]
        email: String,
        #[arg(long, env = "SWITCHBOARD_PASSWORD", hide_env_values = true)]
        password: String,
    },
    /// Sign out and forget this person's data here.
    Logout,
    /// Send what is queued, then fetch what changed.
    Sync,
    /// Stay connected: print what changes and show desktop notifications, until Ctrl-C.
    Watch,
    /// The conversations, newest first.
    Inbox {
        #[arg(long, value_enum, default_value = "all")]
        filter: Filter,
        #[arg(long)]
        search: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[arg(long)]
        json: bool,
    },
    /// Reply to a customer.
    Send { conversation: String, text: String },
    /// Take a conversation over from the assistant.
    Takeover { conversation: String },
    /// Hand a conversation back to the assistant.
    Handback { conversation: String },
    /// Serve the console's web UI to a browser on loopback, syncing and notifying like the
    /// desktop app (for development and the browser end-to-end run).
    ServeUi {
        /// A loopback address; port 0 picks a free one (printed on start).
        #[arg(long, default_value = "127.0.0.1:1421")]
        bind: std::net::SocketAddr,
        /// The built UI (`npm run build` in ui/).
        #[arg(long, default_value = "ui/dist")]
        ui: PathBuf,
        /// Show native desktop notifications too.
        #[arg(long)]
        notify: bool,
    },
    /// What is waiting to be sent, and what was refused.
    Outbox {
        #[arg(long)]
        json: bool,
    },
}

fn default_data_dir() -> PathBuf {
    std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."))
        .join("switchboard")
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::try_from_env("SWITCHBOARD_LOG").unwrap_or_else(|_| "warn".into())).with_writer(std::io::stderr).init();
    let cli = Cli::parse();
    console_core::credentials::use_platform_store();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// After queuing: try to deliver now; offline, say it is queued.
async fn deliver(console: &Console, mutation_id: i64, what: &str) -> Result<(), ConsoleError> {
    match console.sync_once().await {
        Ok(_) => {}
        Err(ConsoleError::Transport(e)) if e.is_transient() => {
            println!("Offline ({e}): {what} is queued and will be sent when the service is reachable.");
            return Ok(());
        }
        Err(e) => return Err(e),
    }
    match console.store().outbox().await?.into_iter().find(|e| e.id == mutation_id) {
        None => println!("Done: {what}."),
        Some(e) if e.state == "failed" => {
            println!("Refused: {} ({}). Kept as a draft.", e.message.unwrap_or_default(), e.code.map(|c| c.as_str()).unwrap_or_default());
        }
        Some(_) => println!("Queued: {what} is waiting for earlier actions."),
    }
    Ok(())
}

async fn run(cli: Cli) -> Result<(), ConsoleError> {
    let data_dir = cli.data_dir.unwrap_or_else(default_data_dir);
    if let Verb::ServeUi { bind, ui, notify } = cli.verb {
        return serve_ui(&data_dir, bind, ui, notify).await;
    }
    let mut console = Console::open(&data_dir).await?;
    match cli.verb {
        Verb::Login { server, email, password } => {
            let account = console.login(&server, &email, &password).await?;
            println!("Signed in as {} ({}) on {}.", account.email, account.role, account.server);
            match console.sync_once().await {
                Ok(pass) => println!("Synced {} changes.", pass.changed.len()),
                Err(e) => println!("Signed in, but the first sync failed: {e}"),
            }
        }
        Verb::Logout => {
            console.logout().await?;
            println!("Signed out; this person's data is gone from this machine.");
        }
        Verb::Sync => match console.sync_once().await {
            Ok(pass) => {
                let outbox = console.store().outbox().await?;
                println!(
                    "Synced {} changes; cursor {}; {} pending, {} refused.",
                    pass.changed.len(),
                    console.store().cursor().await?,
                    outbox.iter().filter(|e| e.state == "pending").count(),
                    outbox.iter().filter(|e| e.state == "failed").count()
                );
            }
            Err(ConsoleError::Transport(e)) if e.is_transient() => {
                println!("Offline ({e}); {} actions queued.", console.store().pending(10_000).await?.len());
            }
            Err(e) => return Err(e),
        },
        Verb::Watch => {
            let handle = console.start(Some(std::sync::Arc::new(console_core::alerts::DesktopNotifier::new())), EngineConfig::default())?;
            let mut events = handle.subscribe();
            println!("{}", serde_json::to_string(&handle.status()).unwrap_or_default());
            loop {
                tokio::select! {
                    event = events.recv() => match event {
                        Ok(Event::Changed { entities, resync }) => println!("{{\"changed\":{},\"resync\":{resync}}}", entities.len()),
                        Ok(event @ (Event::Status { .. } | Event::Alert { .. })) => println!("{}", serde_json::to_string(&event).unwrap_or_default()),
                        Ok(_) => {}
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                        Err(_) => break,
                    },
                    _ = tokio::signal::ctrl_c() => { handle.stop(); break; }
                }
            }
        }
        Verb::Inbox { filter, search, limit, json } => {
            let filter = match filter {
                Filter::All => InboxFilter::All,
                Filter::NeedsHuman => InboxFilter::NeedsHuman,
                Filter::Mine => InboxFilter::Mine,
                Filter::Assistant => InboxFilter::Assistant,
                Filter::Resolved => InboxFilter::Resolved,
            };
            let page = console.store().inbox(&InboxQuery { filter, search, limit: Some(limit), after: None }, console.me()?).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&page).unwrap_or_default());
            } else if page.items.is_empty() {
                println!("No conversations.");
            } else {
                for item in page.items {
                    let who = match item.handler {
                        Handler::Assistant => "assistant".to_owned(),
                        Handler::NeedsHuman => "NEEDS A PERSON".to_owned(),
                        Handler::Me => "me".to_owned(),
                        Handler::Colleague { name, .. } => name,
                    };
                    let unread = if item.conversation.unread_count > 0 { format!(" ({} new)", item.conversation.unread_count) } else { String::new() };
                    let pending = if item.pending { " [pending]" } else { "" };
                    println!(
                        "{}  {:<14} {:<24} {}{}{}",
                        item.conversation.id,
                        who,
                        item.customer_name,
                        item.conversation.last_message_preview.chars().take(50).collect::<String>(),
                        unread,
                        pending
                    );
                }
            }
        }
        Verb::ServeUi { .. } => unreachable!("served above"),
        Verb::Send { conversation, text } => {
            let q = console.send_message(&conversation, &text).await?;
            deliver(&console, q.mutation_id, "the message").await?;
        }
        Verb::Takeover { conversation } => {
            let q = console.take_over(&conversation).await?;
            deliver(&console, q.mutation_id, "taking over").await?;
        }
        Verb::Handback { conversation } => {
            let q = console.hand_back(&conversation).await?;
            deliver(&console, q.mutation_id, "handing back").await?;
        }
        Verb::Outbox { json } => {
            let outbox = console.store().outbox().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&outbox).unwrap_or_default());
            } else if outbox.is_empty() {
                println!("Nothing waiting.");
            } else {
                for e in outbox {
                    let why = if e.state == "failed" { format!(" — refused: {}", e.message.unwrap_or_default()) } else { String::new() };
                    let about = e.op.conversation_id().map(|c| c.to_string()).unwrap_or_default();
                    println!("#{} {} {} {}{}", e.id, e.state, e.op.name(), about, why);
                }
            }
        }
    }
    Ok(())
}

async fn serve_ui(data_dir: &std::path::Path, bind: std::net::SocketAddr, ui: PathBuf, notify: bool) -> Result<(), ConsoleError> {
    if !bind.ip().is_loopback() {
        return Err(ConsoleError::Invalid(format!("{bind} is not a loopback address: the UI bridge serves this computer only.")));
    }
    if !ui.join("index.html").is_file() {
        return Err(ConsoleError::Invalid(format!("{} has no index.html: build the UI first (cd ui && npm run build).", ui.display())));
    }
    let notifier: Option<std::sync::Arc<dyn console_core::alerts::Notifier>> = if notify { Some(std::sync::Arc::new(console_core::alerts::DesktopNotifier::new())) } else { None };
    let desk = console_core::desk::Desk::open(data_dir, notifier, EngineConfig::default()).await.map_err(|e| ConsoleError::Invalid(e.message))?;
    let listener = tokio::net::TcpListener::bind(bind).await.map_err(|e| ConsoleError::Invalid(format!("cannot listen on {bind}: {e}")))?;
    let addr = listener.local_addr().map_err(|e| ConsoleError::Invalid(e.to_string()))?;
    println!("Switchboard console UI at http://{addr}/");
    let stopping = desk.clone();
    console_core::bridge::serve(desk, ui, listener, async move {
        let _ = tokio::signal::ctrl_c().await;
        stopping.stop().await;
    })
    .await
    .map_err(|e| ConsoleError::Invalid(e.to_string()))
}
