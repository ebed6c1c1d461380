//! Migrations: embedded, applied at start, and never changed once landed (databases that ran one
//! refuse a new checksum). `migrations/*/CHECKSUMS` pins every landed file's SHA-384 and a test
//! holds the files to it, so an edit fails CI instead of a customer's upgrade.
//!
//! One landed migration *was* edited once (0005 gained an index after it had run in the wild).
//! 0005 is back to its landed text, 0009 creates the index where it is missing, and databases that
//! ran the edited text are given the landed text's checksum before migrating ([`repair`]).

use super::{Db, Engine, StoreError};

/// SHA-384 of 0005 as it landed, and of the edited text some databases ran.
const LANDED_0005: &str = "5b9a2862c0c2f54f9fd54aa02514b995e49a1211288becfe494480b027b73fd7627347f4d115db4513600d68c94a9c87";
const EDITED_0005: &str = "8fadbeb659c9ef1dca9d7ea71cc51a727466c7272c6fd30bf6b8d4b8c818c3f1955f92675f0ca4bd82f5ef4c4f641991";

fn bytes(hex: &str) -> Vec<u8> {
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("a hex constant")).collect()
}

/// Gives databases that ran the edited 0005 the landed checksum, so migrating goes on.
pub async fn repair(db: &Db) -> Result<(), StoreError> {
    let exists = match db.engine() {
        Engine::Sqlite => "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
        Engine::Postgres => "SELECT COUNT(*) FROM information_schema.tables WHERE table_name = '_sqlx_migrations' AND table_schema = current_schema()",
    };
    let found: i64 = sqlx::query_scalar(exists).fetch_one(db.writer()).await?;
    if found == 0 {
        return Ok(());
    }
    let repaired = sqlx::query("UPDATE _sqlx_migrations SET checksum = $1 WHERE version = 5 AND checksum = $2")
        .bind(bytes(LANDED_0005))
        .bind(bytes(EDITED_0005))
        .execute(db.writer())
        .await?
        .rows_affected();
    if repaired > 0 {
        tracing::info!("migration 0005 had run in its edited form; recorded as it landed (0009 keeps the index)");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha384};

    use super::*;

    /// A database that ran the edited 0005 migrates on, with the landed checksum and the index.
    #[tokio::test]
    async fn a_database_that_ran_the_edited_0005_still_migrates() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("old.db").display());
        let clock = std::sync::Arc::new(crate::clock::SystemClock);
        let db = Db::connect(&url, 1, clock.clone()).await.unwrap();
        db.migrate().await.unwrap();
        sqlx::query("UPDATE _sqlx_migrations SET checksum = $1 WHERE version = 5").bind(bytes(EDITED_0005)).execute(db.writer()).await.unwrap();
        db.close().await;
        let db = Db::connect(&url, 1, clock).await.unwrap();
        db.migrate().await.expect("the edited 0005 is repaired, not refused");
        let sum: Vec<u8> = sqlx::query_scalar("SELECT checksum FROM _sqlx_migrations WHERE version = 5").fetch_one(db.reader()).await.unwrap();
        assert_eq!(sum, bytes(LANDED_0005));
        let index: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sqlite_master WHERE name = 'assistant_jobs_one_running'").fetch_one(db.reader()).await.unwrap();
        assert_eq!(index, 1);
    }

    /// Every migration file matches its pinned checksum, and every file is pinned.
    #[test]
    fn landed_migrations_never_change() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations");
        for set in ["cloud", "console"] {
            let dir = root.join(set);
            let pinned: Vec<(String, String)> = std::fs::read_to_string(dir.join("CHECKSUMS"))
                .expect("CHECKSUMS is committed beside the migrations")
                .lines()
                .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
                .map(|l| {
                    let (file, sum) = l.split_once(' ').expect("`file checksum`");
                    (file.to_owned(), sum.trim().to_owned())
                })
                .collect();
            let mut files: Vec<String> = std::fs::read_dir(&dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".sql"))
                .collect();
            files.sort();
            let pinned_files: Vec<&String> = pinned.iter().map(|(f, _)| f).collect();
            assert_eq!(files.iter().collect::<Vec<_>>(), pinned_files, "{set}: every migration is pinned in CHECKSUMS, in order");
            for (file, sum) in &pinned {
                let actual: String = Sha384::digest(std::fs::read(dir.join(file)).unwrap()).iter().map(|b| format!("{b:02x}")).collect();
                assert_eq!(&actual, sum, "{set}/{file} changed after it landed: add a new migration instead");
            }
        }
    }
}
