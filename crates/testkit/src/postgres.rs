//! A throwaway PostgreSQL cluster.
//!
//! [`pg_cluster`] starts a throwaway PostgreSQL cluster (initdb + pg_ctl in a temp dir, on a free
//! loopback port) once per process; each caller gets its own database in it. When run as root the
//! cluster runs as the `postgres` system user, because initdb refuses root. A watchdog process
//! stops the cluster and removes its files when the process that started it exits. Failing to
//! start is a panic with the reason: tests that need PostgreSQL fail, they never skip.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

pub struct PgCluster {
    port: u16,
    admin_url: String,
}

static CLUSTER: OnceLock<PgCluster> = OnceLock::new();

pub fn pg_cluster() -> &'static PgCluster {
    CLUSTER.get_or_init(|| PgCluster::start().unwrap_or_else(|e| panic!("could not start a throwaway PostgreSQL cluster: {e}")))
}

fn pg_bin_dir() -> Result<PathBuf, String> {
    if let Ok(dir) = std::env::var("SWITCHBOARD_PG_BIN") {
        return Ok(PathBuf::from(dir));
    }
    let mut candidates: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|_| "PostgreSQL is not installed (no /usr/lib/postgresql); install the `postgresql` package".to_string())?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("initdb").exists())
        .collect();
    candidates.sort();
    candidates.pop().ok_or_else(|| "no initdb under /usr/lib/postgresql/*/bin".into())
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc_geteuid() == 0 }
}

extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}

/// A command for a PostgreSQL binary, run as `postgres` when we are root.
fn pg_command(bin: &Path, program: &str) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(bin.join(program));
        c
    } else {
        Command::new(bin.join(program))
    }
}

impl PgCluster {
    fn start() -> Result<PgCluster, String> {
        let bin = pg_bin_dir()?;
        let dir = tempfile::Builder::new().prefix("switchboard-pg-").tempdir().map_err(|e| e.to_string())?.keep();
        if is_root() {
            let status = Command::new("chown").arg("postgres:").arg(&dir).status().map_err(|e| e.to_string())?;
            if !status.success() {
                return Err("chown of the cluster directory to postgres failed".into());
            }
        }
        let data = dir.join("data");
        let out = pg_command(&bin, "initdb")
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"])
            .output()
            .map_err(|e| format!("initdb: {e}"))?;
        if !out.status.success() {
            return Err(format!("initdb failed: {}", String::from_utf8_lossy(&out.stderr)));
        }
        let port = crate::free_port();
        // Tests trade durability for speed; benchmarks that measure durable commits set
        // SWITCHBOARD_TESTKIT_PG_DURABLE=1 and get PostgreSQL's defaults (fsync on).
        let durable = std::env::var("SWITCHBOARD_TESTKIT_PG_DURABLE").is_ok_and(|v| v == "1");
        let speed = if durable { "" } else { "-c fsync=off -c synchronous_commit=off -c full_page_writes=off" };
        let options = format!("-p {port} -h 127.0.0.1 -k {} {speed} -c max_connections=400", dir.display());
        let out = pg_command(&bin, "pg_ctl")
            .arg("-D")
            .arg(&data)
            .args(["-o", &options, "-l"])
            .arg(dir.join("log"))
            .args(["-w", "-t", "60", "start"])
            .stdout(Stdio::null())
            .output()
            .map_err(|e| format!("pg_ctl: {e}"))?;
        if !out.status.success() {
            let log = std::fs::read_to_string(dir.join("log")).unwrap_or_default();
            return Err(format!("pg_ctl start failed: {}{log}", String::from_utf8_lossy(&out.stderr)));
        }
        // Stop the cluster and remove its files once this test process is gone.
        let stop = if is_root() { "runuser -u postgres -- " } else { "" };
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; {stop}{pg_ctl} -D {data} -m immediate stop >/dev/null 2>&1; rm -rf {dir}",
            pid = std::process::id(),
            pg_ctl = bin.join("pg_ctl").display(),
            data = data.display(),
            dir = dir.display(),
        );
        Command::new("setsid")
            .args(["sh", "-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("watchdog: {e}"))?;
        Ok(PgCluster { port, admin_url: format!("postgres://postgres@127.0.0.1:{port}/postgres") })
    }

    /// A new, empty database; returns its URL.
    pub fn create_database(&self) -> String {
        let name = format!("t_{}", uuid::Uuid::now_v7().simple());
        let admin = self.admin_url.clone();
        let sql = format!("CREATE DATABASE {name}");
        // Run on a private runtime: the caller's runtime may be mid-poll.
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                use sqlx::Connection;
                let mut conn = sqlx::PgConnection::connect(&admin).await.expect("connect to the throwaway cluster");
                sqlx::Executor::execute(&mut conn, sql.as_str()).await.expect("create test database");
            })
        })
        .join()
        .unwrap();
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }
}
