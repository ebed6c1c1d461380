//! What the end-to-end tests share: consoles signed in to the real service, a transport that
//! can be cut, a private desktop session (D-Bus, keyring), and the programs as processes.
//!
//! The service side (the real service in-process, the demo business, the providers' fakes) is
//! `switchboard-testkit`'s, as for the service's own tests.

use std::path::{Path, PathBuf};

use switchboard_testkit::demo::{DemoService, PASSWORD};

/// A console signed in to the service, in its own data directory.
pub async fn console(service: &DemoService, email: &str, dir: &Path) -> console_core::Console {
    let mut console = console_core::Console::open(dir).await.unwrap();
    console.login(service.url(), email, PASSWORD).await.unwrap();
    console
}

/// Fast retries for tests: the service comes back within a second.
pub fn quick() -> console_core::EngineConfig {
    console_core::EngineConfig {
        backoff_base: std::time::Duration::from_millis(50),
        backoff_cap: std::time::Duration::from_millis(300),
        ..Default::default()
    }
}

/// The path of one of the workspace's programs (`switchboard-cloud`, `switchboard-console`), to
/// run as a process.
///
/// Cargo builds a binary for a test only when both belong to one package (`CARGO_BIN_EXE_*`), and
/// these belong to the packages they are built from. So they are built before the tests run —
/// `scripts/test` runs `cargo build --workspace --bins --tests` first (the same features as the
/// `cargo test` after it, so nothing is built twice) — and found here, in the target directory
/// this test was built into (`target/<profile>/deps/<test>` → `target/<profile>/<program>`). A
/// program that is missing, or older than any source Cargo built it from (its dep-info file
/// beside it lists them), fails the test with the command that rebuilds it: a test never runs a
/// stale program.
pub fn program(name: &str) -> PathBuf {
    let rebuild = "build the programs first: cargo build --workspace --bins --tests (scripts/test does)";
    let exe = std::env::current_exe().expect("the test's own path");
    let dir = exe.parent().and_then(Path::parent).expect("a test runs from target/<profile>/deps");
    let path = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    let built = modified(&path).unwrap_or_else(|| panic!("{name} is not built ({}): {rebuild}", path.display()));
    let dep_info = dir.join(format!("{name}.d"));
    let dep_info = std::fs::read_to_string(&dep_info).unwrap_or_else(|e| panic!("{}: {e}: {rebuild}", dep_info.display()));
    // `target: source source …`, spaces in a path escaped as `\ `.
    let (_, sources) = dep_info.lines().next().and_then(|l| l.split_once(": ")).unwrap_or_default();
    let sources = sources.replace("\\ ", "\0");
    for source in sources.split_whitespace().map(|s| PathBuf::from(s.replace('\0', " "))) {
        if modified(&source).is_none_or(|at| at > built) {
            panic!("{name} is older than {}: {rebuild}", source.display());
        }
    }
    path
}

fn modified(path: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// A transport that can be cut (offline) and can lose the answer to a push after the service
/// applied it — the network failing at the worst moment.
pub struct Flaky {
    pub inner: std::sync::Arc<console_core::HttpTransport>,
    pub online: std::sync::atomic::AtomicBool,
    pub lose_next_push_answer: std::sync::atomic::AtomicBool,
    pub lost: std::sync::Mutex<Vec<protocol::PushResponse>>,
    /// Uploads of attachments tried while online.
    pub uploads: std::sync::atomic::AtomicUsize,
}

impl Flaky {
    pub fn new(inner: std::sync::Arc<console_core::HttpTransport>) -> std::sync::Arc<Flaky> {
        std::sync::Arc::new(Flaky {
            inner,
            online: true.into(),
            lose_next_push_answer: false.into(),
            lost: Default::default(),
            uploads: Default::default(),
        })
    }
    /// The console's sync engine over a cuttable copy of its transport, for a test to run pass by
    /// pass (the cable, and the engine).
    pub fn syncer(console: &console_core::Console) -> (std::sync::Arc<Flaky>, console_core::engine::Syncer) {
        let net = Flaky::new(console.transport().expect("a signed-in console"));
        let me = console.me().expect("a signed-in console").to_owned();
        let syncer = console_core::engine::Syncer::new(console.store().clone(), net.clone(), console.client_id().to_owned(), me, 500);
        (net, syncer)
    }

    fn check(&self) -> Result<(), console_core::TransportError> {
        if self.online.load(std::sync::atomic::Ordering::SeqCst) {
            Ok(())
        } else {
            Err(console_core::TransportError::Offline("cable unplugged".into()))
        }
    }
}

impl console_core::Transport for Flaky {
    fn pull<'a>(&'a self, cursor: i64, client_id: &'a str, limit: u32) -> futures_util::future::BoxFuture<'a, Result<protocol::SyncPage, console_core::TransportError>> {
        Box::pin(async move {
            self.check()?;
            self.inner.pull(cursor, client_id, limit).await
        })
    }
    fn push<'a>(&'a self, request: &'a protocol::PushRequest) -> futures_util::future::BoxFuture<'a, Result<protocol::PushResponse, console_core::TransportError>> {
        Box::pin(async move {
            self.check()?;
            let response = self.inner.push(request).await?;
            if self.lose_next_push_answer.swap(false, std::sync::atomic::Ordering::SeqCst) {
                self.lost.lock().unwrap().push(response);
                return Err(console_core::TransportError::Offline("connection reset before the answer arrived".into()));
            }
            Ok(response)
        })
    }
    fn live<'a>(&'a self, client_id: &'a str, cursor: i64) -> futures_util::future::BoxFuture<'a, Result<console_core::transport::Live, console_core::TransportError>> {
        Box::pin(async move {
            self.check()?;
            self.inner.live(client_id, cursor).await
        })
    }
    fn upload_media<'a>(&'a self, id: &'a str, file: &'a console_core::store::CachedMedia) -> futures_util::future::BoxFuture<'a, Result<protocol::MediaFile, console_core::TransportError>> {
        Box::pin(async move {
            self.check()?;
            self.uploads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            self.inner.upload_media(id, file).await
        })
    }
    fn media<'a>(&'a self, path: &'a str) -> futures_util::future::BoxFuture<'a, Result<(String, Vec<u8>), console_core::TransportError>> {
        Box::pin(async move {
            self.check()?;
            self.inner.media(path).await
        })
    }
}

/// A private desktop session for tests: its own D-Bus session bus (no service activation, so
/// nothing of the machine's leaks in) and, on request, a GNOME Keyring answering the Secret
/// Service on it, unlocked. Stopped on drop.
pub struct PrivateSession {
    pub address: String,
    children: Vec<std::process::Child>,
    _dir: tempfile::TempDir,
}

impl PrivateSession {
    pub fn start(with_keyring: bool) -> PrivateSession {
        use std::io::{BufRead, Write};
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("bus");
        let conf = dir.path().join("bus.conf");
        std::fs::write(
            &conf,
            format!(
                r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN" "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><type>session</type><listen>unix:path={}</listen><auth>EXTERNAL</auth>
<policy context="default"><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/><allow own="*"/></policy></busconfig>"#,
                socket.display()
            ),
        )
        .unwrap();
        let mut bus = std::process::Command::new("dbus-daemon")
            .arg(format!("--config-file={}", conf.display()))
            .args(["--nofork", "--print-address=1"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("dbus-daemon (package dbus) is installed by scripts/setup");
        let mut line = String::new();
        std::io::BufReader::new(bus.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let address = line.trim().to_owned();
        let mut children = vec![bus];
        if with_keyring {
            let home = dir.path().join("home");
            let runtime = dir.path().join("run");
            std::fs::create_dir_all(&home).unwrap();
            std::fs::create_dir_all(&runtime).unwrap();
            let mut keyring = std::process::Command::new("gnome-keyring-daemon")
                .args(["--unlock", "--components=secrets", "--foreground"])
                .env("DBUS_SESSION_BUS_ADDRESS", &address)
                .env("HOME", &home)
                .env("XDG_RUNTIME_DIR", &runtime)
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("gnome-keyring-daemon (package gnome-keyring) is installed by scripts/setup");
            let mut stdin = keyring.stdin.take().unwrap();
            stdin.write_all(b"test-login-password").unwrap();
            drop(stdin);
            children.push(keyring);
            // Wait until it owns the Secret Service name.
            for _ in 0..100 {
                let names = std::process::Command::new("dbus-send")
                    .args(["--print-reply", "--dest=org.freedesktop.DBus", "/", "org.freedesktop.DBus.ListNames"])
                    .env("DBUS_SESSION_BUS_ADDRESS", &address)
                    .output()
                    .unwrap();
                if String::from_utf8_lossy(&names.stdout).contains("org.freedesktop.secrets") {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        }
        PrivateSession { address, children, _dir: dir }
    }
}

impl Drop for PrivateSession {
    fn drop(&mut self) {
        for child in self.children.iter_mut().rev() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
