//! `switchboard-cloud`: serve, migrate, or run the demo.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use serde::Serialize;
use switchboard_cloud::startup::shutdown_signal;
use switchboard_cloud::{Application, Config};

#[derive(Parser)]
#[command(name = "switchboard-cloud", version, about = "Switchboard's headless service: the AI front desk's back office")]
struct Cli {
    /// TOML configuration file (optional; SWITCHBOARD_* variables and flags override it).
    #[arg(long, global = true, env = "SWITCHBOARD_CONFIG")]
    config: Option<PathBuf>,
    #[command(flatten)]
    flags: Flags,
    #[command(subcommand)]
    command: Command,
}

/// Flags that override configuration; only those given are applied.
#[derive(clap::Args, Serialize)]
struct Flags {
    /// Address to listen on, e.g. 0.0.0.0:8080.
    #[arg(long, global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    bind: Option<String>,
    /// sqlite://FILE or postgres://…
    #[arg(long, global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    database_url: Option<String>,
    /// Where the embedded database and generated key live.
    #[arg(long, global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    data_dir: Option<PathBuf>,
    /// The URL providers reach this service at.
    #[arg(long, global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    public_url: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service.
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Run the service with a seeded demo business.
    Demo(DemoOptions),
}

#[derive(clap::Args, Default)]
struct DemoOptions {
    /// No simulated customers (scripted tests send their own webhooks).
    #[arg(long)]
    no_traffic: bool,
    /// The sandbox WhatsApp app secret, so a test can sign webhooks (default: random).
    #[arg(long, env = "SWITCHBOARD_DEMO_APP_SECRET", hide_env_values = true)]
    app_secret: Option<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let config = Config::load(cli.config.as_deref(), &cli.flags)?;
    init_logs(&config.log_format);
    match cli.command {
        Command::Migrate => {
            let url = config.resolved_database_url()?;
            let clock = std::sync::Arc::new(switchboard_cloud::clock::SystemClock);
            let db = switchboard_cloud::store::Db::connect(&url, 1, clock).await.context("connecting to the database")?;
            db.migrate().await.context("applying migrations")?;
            println!("migrations applied");
            Ok(())
        }
        Command::Serve => serve(config, None).await,
        Command::Demo(options) => serve(config, Some(options)).await,
    }
}

async fn serve(mut config: Config, demo_options: Option<DemoOptions>) -> anyhow::Result<()> {
    let demo = demo_options.is_some();
    let options = demo_options.unwrap_or_default();
    // The demo talks to a sandbox WhatsApp API instead of Meta's (see sandbox.rs).
    let app_secret = options.app_secret.clone().unwrap_or_else(|| format!("demo-{}", uuid::Uuid::now_v7().simple()));
    let graph = if demo {
        let graph = switchboard_cloud::sandbox::start_graph(app_secret.clone()).await.context("starting the WhatsApp sandbox")?;
        config.whatsapp_api_base = graph.base.clone();
        Some(graph)
    } else {
        None
    };
    let app = Application::build(config).await.context("starting the service")?;
    let url = format!("http://{}", app.local_addr());
    if let Some(graph) = &graph {
        graph.set_service_url(&url);
    }
    if demo {
        let seeded = switchboard_cloud::demo::seed(&app.state().db).await.map_err(|e| anyhow::anyhow!("seeding the demo: {e}"))?;
        let vapi_secret = format!("vapi-{}", uuid::Uuid::now_v7().simple());
        let (connect_url, business_id) = (url.clone(), seeded.business_id.clone());
        let (app_secret2, vapi2) = (app_secret.clone(), vapi_secret.clone());
        tokio::spawn(async move {
            if let Err(e) = switchboard_cloud::demo::connect_sandbox(&connect_url, &app_secret2, &vapi2).await {
                tracing::error!(error = %e, "could not connect the demo's sandbox channels");
                return;
            }
            if options.no_traffic {
                return;
            }
            switchboard_cloud::sandbox::simulate(connect_url, app_secret2, vapi2, business_id).await;
        });
        println!("Switchboard demo is running at {url}");
        println!("  business: Bloom Hair Studio ({}){}", seeded.business_id, if seeded.created { "" } else { ", already seeded" });
        println!("  sign in:  {} / {}", switchboard_cloud::demo::DEMO_EMAIL, switchboard_cloud::demo::DEMO_PASSWORD);
        println!("  API docs: {url}/openapi.json");
    } else {
        println!("Switchboard is running at {url}");
    }
    tracing::info!(%url, "listening");
    app.run_until(shutdown_signal()).await.context("serving")?;
    Ok(())
}

fn init_logs(format: &str) {
    let filter = switchboard_cloud::logs::filter(std::env::var("SWITCHBOARD_LOG").ok().as_deref());
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}
