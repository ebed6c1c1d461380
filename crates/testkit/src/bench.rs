//! What the benchmarks share: which engines to measure, and how a latency is reported.

use std::time::Duration;

use crate::Engine;

/// The engines named on the command line (`cargo bench … -- sqlite`), or both.
pub fn engines_from_args() -> Vec<Engine> {
    match std::env::args().skip(1).find(|a| !a.starts_with("--")) {
        Some(name) => vec![Engine::parse(&name).unwrap_or_else(|| panic!("unknown engine {name}: sqlite or postgres"))],
        None => Engine::BOTH.to_vec(),
    }
}

/// Measures on each engine named on the command line (or both), under a
/// `| engine | measure | result |` table header.
pub async fn on_engines<F, Fut>(measure: F)
where
    F: Fn(Engine) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    each_engine(&["engine", "measure", "result"], measure).await
}

/// Measures on each engine named on the command line (or both), under a table header of
/// `columns`.
pub async fn each_engine<F, Fut>(columns: &[&str], measure: F)
where
    F: Fn(Engine) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    table_header(columns);
    for engine in engines_from_args() {
        measure(engine).await;
    }
}

/// `0..total` in chunks of 10,000: the `(from, to)` of each, for seeding in transactions of
/// that size.
pub fn chunks(total: i64) -> impl Iterator<Item = (i64, i64)> {
    (0..total).step_by(10_000).map(move |from| (from, (from + 10_000).min(total)))
}

/// `WITH RECURSIVE n(i) …`: the numbers `from` to `to - 1` as rows (both engines), for
/// generating fixtures in the database.
pub fn numbers(from: i64, to: i64) -> String {
    format!("WITH RECURSIVE n(i) AS (SELECT {from} UNION ALL SELECT i + 1 FROM n WHERE i + 1 < {to}) ")
}

/// The `q` quantile of `samples`, in milliseconds (sorts them).
pub fn quantile_ms(samples: &mut [Duration], q: f64) -> f64 {
    samples.sort();
    samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)].as_secs_f64() * 1e3
}

/// "p50 … ms, p99 … ms".
pub fn p50_p99(samples: &mut [Duration]) -> String {
    format!("p50 {:.2} ms, p99 {:.2} ms", quantile_ms(samples, 0.5), quantile_ms(samples, 0.99))
}

/// `full`, or a tenth of it with `--small` (a quick look).
pub fn scaled(full: i64) -> i64 {
    if std::env::args().any(|a| a == "--small") {
        full / 10
    } else {
        full
    }
}

/// Prints a Markdown table's header row and its rule.
pub fn table_header(columns: &[&str]) {
    println!("| {} |", columns.join(" | "));
    println!("|{}", "---|".repeat(columns.len()));
}

/// `p50 | p99 | max` cells of a Markdown row, in milliseconds with `decimals` places.
pub fn quantile_cells(samples: &mut [Duration], decimals: usize) -> String {
    let [p50, p99, max] = [0.5, 0.99, 1.0].map(|q| quantile_ms(samples, q));
    format!("{p50:.decimals$} ms | {p99:.decimals$} ms | {max:.decimals$} ms")
}

/// The service as production runs it (workers live, the default connection pool) with one
/// signed-up business.
pub async fn live_business(engine: Engine) -> (crate::TestApp, crate::Tenant) {
    let app = crate::TestApp::spawn_live(engine, |c| c.max_db_connections = switchboard_cloud::Config::default().max_db_connections).await;
    let owner = app.signup("bench").await;
    (app, owner)
}

/// The statement that seeds `per_conversation` messages (customer and assistant in turn) in each
/// of the conversations `conv-{from}` to `conv-{to - 1}`, generated in the database with a
/// recursive CTE (portable to both engines). `$1` is the business and `$2` a time in ms;
/// `created_at` is an SQL expression of them and `j`, the message's number.
pub fn messages_sql(from: i64, to: i64, per_conversation: i64, created_at: &str) -> String {
    format!(
        "WITH RECURSIVE m(j) AS (SELECT {first} UNION ALL SELECT j + 1 FROM m WHERE j + 1 < {last}) \
         INSERT INTO messages (id, business_id, conversation_id, direction, author_kind, body, media, delivery_status, created_at, updated_at) \
         SELECT 'msg-' || j, $1, 'conv-' || (j / {per_conversation}), CASE WHEN j % 2 = 0 THEN 'inbound' ELSE 'outbound' END, \
         CASE WHEN j % 2 = 0 THEN 'customer' ELSE 'assistant' END, 'Hello, this is message ' || j || ' of a realistic length for a chat.', '[]', \
         'delivered', {created_at}, $2 FROM m",
        first = from * per_conversation,
        last = to * per_conversation,
    )
}

/// The demo business's service on loopback, on SQLite in `dir`, running in the background:
/// its address, database and the demo business's id. `adjust` changes the configuration first.
pub async fn demo_service(dir: &std::path::Path, adjust: impl FnOnce(&mut switchboard_cloud::Config)) -> (String, switchboard_cloud::store::Db, String) {
    let mut config = switchboard_cloud::Config {
        bind: "127.0.0.1:0".parse().unwrap(),
        database_url: Some(format!("sqlite://{}?mode=rwc", dir.join("service.db").display())),
        data_dir: Some(dir.to_path_buf()),
        ..switchboard_cloud::Config::default()
    };
    adjust(&mut config);
    let app = switchboard_cloud::Application::build(config).await.unwrap();
    let url = format!("http://{}", app.local_addr());
    let db = app.state().db.clone();
    let business = switchboard_cloud::demo::seed(&db).await.unwrap().business_id;
    tokio::spawn(app.run_until(std::future::pending()));
    (url, db, business)
}

/// An access token of the demo business's owner.
pub async fn demo_token(url: &str) -> String {
    let login: serde_json::Value = reqwest::Client::new()
        .post(format!("{url}/v1/auth/login"))
        .json(&serde_json::json!({"email": switchboard_cloud::demo::DEMO_EMAIL, "password": switchboard_cloud::demo::DEMO_PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    login["access_token"].as_str().unwrap().to_owned()
}

/// Appends one entity's state to the business's change log at `seq`, as the service records a
/// write (benchmarks write their fixtures' states straight into it); [`set_last_seq`] after the
/// last one.
pub async fn append_change(conn: &mut sqlx::AnyConnection, business: &str, seq: i64, (entity, id): (&str, &str), data: String, at: i64) {
    sqlx::query("INSERT INTO changes (business_id, entity, entity_id, seq, data, changed_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(business)
        .bind(entity)
        .bind(id)
        .bind(seq)
        .bind(data)
        .bind(at)
        .execute(conn)
        .await
        .unwrap();
}

/// Moves the business's change-log sequence to `seq` (after [`append_change`]).
pub async fn set_last_seq(conn: &mut sqlx::AnyConnection, business: &str, seq: i64) {
    sqlx::query("UPDATE businesses SET last_seq = $1 WHERE id = $2").bind(seq).bind(business).execute(conn).await.unwrap();
}
