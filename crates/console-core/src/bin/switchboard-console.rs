//! `switchboard-console`: the console core without a window, for headless machines, scripts and
//! tests. Every verb works on a data directory; a verb that needs the service queues its action
//! when the service cannot be reached, and says so.
//!
//! Exit status, for scripts: 0 done (or queued while offline), 1 it could not be done (not
//! signed in, bad input, local trouble), 2 a usage mistake (from clap), 3 the service refused it
//! (the reason and its stable code on stderr).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use console_core::queries::{Handler, InboxFilter, InboxQuery};
use console_core::{Console, ConsoleError, EngineConfig, Event};
use console_core::credentials::{keyring_works, Keep};
use console_core::desk::PASSPHRASE_ENV;
use protocol::MutationOp;

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

#[derive(Clone, Copy, ValueEnum)]
enum KeepArg {
    Auto,
    Keyring,
    File,
}

impl KeepArg {
    /// `auto`: the keyring when it works, else the file.
    fn place(self) -> Keep {
        match self {
            KeepArg::Keyring => Keep::Keyring,
            KeepArg::File => Keep::File,
            KeepArg::Auto if keyring_works() => Keep::Keyring,
            KeepArg::Auto => Keep::File,
        }
    }
}

fn kept_in(keep: Keep) -> &'static str {
    match keep {
        Keep::Keyring => "the system keyring",
        _ => "an encrypted file (unlocked with SWITCHBOARD_CONSOLE_PASSPHRASE)",
    }
}

#[derive(Subcommand)]
enum Verb {
    /// Sign in. The refresh token goes to the system keyring; where there is none, to a file
    /// encrypted with the passphrase in SWITCHBOARD_CONSOLE_PASSPHRASE (which later verbs read
    /// to unlock it).
    Login {
        #[arg(long)]
        server: String,
        #[arg(long)]
        email: String,
        #[arg(long, env = "SWITCHBOARD_PASSWORD", hide_env_values = true)]
        password: String,
        /// The authenticator app's code (or a recovery code), for an account with two-factor
        /// sign-in.
        #[arg(long)]
        code: Option<String>,
        /// Where to keep the sign-in: `auto` is the keyring when it works, else the file.
        #[arg(long, value_enum, default_value = "auto")]
        keep: KeepArg,
    },
    /// Keep the sign-in somewhere else without signing in again (the file takes its passphrase
    /// from SWITCHBOARD_CONSOLE_PASSPHRASE, which also unlocks a sign-in kept in a file now).
    Keep {
        #[arg(value_enum)]
        place: KeepArg,
    },
    /// Sign out and forget this person's data here (refused while actions wait to be sent).
    Logout {
        /// Sign out even though actions made here have not been sent: they are lost.
        #[arg(long)]
        discard: bool,
    },
    /// Send what is queued, then fetch what changed.
    Sync,
    /// Stay connected: print what changes and show desktop notifications, until Ctrl-C.
    Watch,
    /// The conversations, newest first (`--filter needs-human`: longest waiting first).
    Inbox {
        #[arg(long, value_enum, default_value = "all")]
        filter: Filter,
        #[arg(long)]
        search: Option<String>,
        /// Only conversations with this label.
        #[arg(long)]
        label: Option<String>,
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
        Err(Failure::Refused(why)) => {
            eprintln!("{why}");
            ExitCode::from(EXIT_REFUSED)
        }
        Err(Failure::Console(e)) => {
            eprintln!("error: {e}");
            if e.kind() == "unsent" {
                eprintln!("`logout --discard` signs out anyway.");
            }
            if e.kind() == "refused" {
                ExitCode::from(EXIT_REFUSED)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// The exit status of an action the service refused (1 is everything else that went wrong).
const EXIT_REFUSED: u8 = 3;

/// Why a verb did not do what was asked.
enum Failure {
    /// The service said no to a queued action: the sentence for stderr.
    Refused(String),
    Console(ConsoleError),
}

impl<E: Into<ConsoleError>> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure::Console(e.into())
    }
}

/// After queuing: try to deliver now; offline, say it is queued.
/// A refused message stays in the outbox as a draft (retry or discard it there); anything else
/// that was refused is dropped once reported, as there is nothing to keep.
async fn deliver(console: &Console, mutation_id: i64, what: &str) -> Result<(), Failure> {
    match console.sync_once().await {
        Ok(_) => {}
        Err(ConsoleError::Transport(e)) if e.is_transient() => {
            println!("Offline ({e}): {what} is queued and will be sent when the service is reachable.");
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    }
    match console.store().outbox().await?.into_iter().find(|e| e.id == mutation_id) {
        None => println!("Done: {what}."),
        Some(e) if e.state == "failed" => {
            let reason = format!("Refused: {} ({}).", e.message.clone().unwrap_or_default(), e.code.map(|c| c.as_str()).unwrap_or("refused"));
            let is_text = matches!(
                e.op,
                MutationOp::SendMessage { .. } | MutationOp::UseCannedResponse { .. } | MutationOp::SendTemplate { .. } | MutationOp::StartConversation { .. }
            );
            if is_text {
                return Err(Failure::Refused(format!("{reason} The text was kept as a draft (#{}): see `switchboard-console outbox`.", e.id)));
            }
            console.store().discard(e.id).await?;
            return Err(Failure::Refused(reason));
        }
        Some(_) => println!("Queued: {what} is waiting for earlier actions."),
    }
    Ok(())
}

async fn run(cli: Cli) -> Result<(), Failure> {
    let data_dir = cli.data_dir.unwrap_or_else(default_data_dir);
    if let Verb::ServeUi { bind, ui, notify } = cli.verb {
        return Ok(serve_ui(&data_dir, bind, ui, notify).await?);
    }
    let mut console = Console::open(&data_dir).await?;
    let passphrase = std::env::var(PASSPHRASE_ENV).ok().filter(|p| !p.is_empty());
    // Signing out opens a locked sign-in when it can (to end its session on the service), and
    // signs out here all the same when it cannot: it is the way out of a forgotten passphrase.
    if console.is_locked() && matches!(cli.verb, Verb::Logout { .. }) {
        if let Some(passphrase) = &passphrase {
            let _ = console.unlock(passphrase);
        }
    }
    if console.is_locked() && !matches!(cli.verb, Verb::Login { .. } | Verb::Logout { .. }) {
        let Some(passphrase) = &passphrase else {
            return Err(ConsoleError::Invalid(format!("The sign-in is kept in an encrypted file: set {PASSPHRASE_ENV} to its passphrase.")).into());
        };
        console.unlock(passphrase)?;
    }
    match cli.verb {
        Verb::Login { server, email, password, code, keep } => {
            let keep = keep.place();
            if keep == Keep::File && passphrase.is_none() {
                return Err(ConsoleError::Invalid(format!(
                    "This computer has no usable system keyring: set {PASSPHRASE_ENV} to a passphrase (at least 8 characters) to keep the sign-in in an encrypted file."
                ))
                .into());
            }
            let account = console.login_with_code(&server, &email, &password, code.as_deref(), keep, passphrase.as_deref()).await?;
            println!("Signed in as {} ({}) on {}; the sign-in is kept in {}.", account.email, account.role, account.server, kept_in(keep));
            match console.sync_once().await {
                Ok(pass) => println!("Synced {} changes.", pass.changed.len()),
                Err(e) => println!("Signed in, but the first sync failed: {e}"),
            }
        }
        Verb::Keep { place } => {
            let keep = place.place();
            console.keep_sign_in(keep, passphrase.as_deref()).await?;
            println!("The sign-in is now kept in {}.", kept_in(keep));
        }
        Verb::Logout { discard } => {
            let told = console.logout(discard).await?;
            println!("Signed out; this person's data is gone from this machine.");
            if !told {
                println!("The service could not be reached, so this sign-in stays valid there until it expires; to end it now, change your password or ask an owner to reset your sign-in.");
            }
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
            Err(e) => return Err(e.into()),
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
        Verb::Inbox { filter, search, label, limit, json } => {
            let filter = match filter {
                Filter::All => InboxFilter::All,
                Filter::NeedsHuman => InboxFilter::NeedsHuman,
                Filter::Mine => InboxFilter::Mine,
                Filter::Assistant => InboxFilter::Assistant,
                Filter::Resolved => InboxFilter::Resolved,
            };
            let page = console.store().inbox(&InboxQuery { filter, search, label, limit: Some(limit), after: None }, console.me()?).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&page).unwrap_or_default());
            } else if page.items.is_empty() {
                println!("No conversations.");
            } else {
                for item in page.items {
                    let who = match item.handler {
                        Handler::Assistant => "assistant".to_owned(),
                        Handler::NeedsHuman => match item.waiting_since {
                            Some(since) => format!("NEEDS A PERSON, WAITING {} MIN", (jiff::Timestamp::now().as_millisecond() - since.as_millis()).max(0) / 60_000),
                            None => "NEEDS A PERSON".to_owned(),
                        },
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
