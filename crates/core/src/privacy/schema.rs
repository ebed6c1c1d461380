//! Which columns can hold a customer's personal data, read from the migrations themselves: every
//! column of every table carries an annotation — `personal data`, `personal copy` or
//! `not personal` — in a trailing SQL comment (migrations from 0010 on) or in
//! `migrations/cloud/PERSONAL-DATA` (0001–0009, which landed before annotations and may never
//! change; a line there also overrides a later migration's comment).
//!
//! Export and erasure are driven by this map, so a new table or column cannot be forgotten: the
//! test below refuses a column without an annotation, export copies every row linked to the
//! customer (with every `personal data` column), and erasure scrubs every `personal data` and
//! `personal copy` column it does not handle by name.

use std::collections::BTreeMap;
use std::sync::LazyLock;

/// What a column can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A customer's data: exported with them, removed when they are erased.
    Personal,
    /// A copy or derivative of it: purged on erasure, never the source of an export.
    Copy,
    NotPersonal,
}

impl Kind {
    /// The annotation at the start of `text` (a comment or the rest of a PERSONAL-DATA line).
    pub fn parse(text: &str) -> Option<Kind> {
        let text = text.trim().to_lowercase();
        [("personal data", Kind::Personal), ("personal copy", Kind::Copy), ("not personal", Kind::NotPersonal)]
            .into_iter()
            .find(|(word, _)| text.starts_with(word))
            .map(|(_, kind)| kind)
    }
}

#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    /// The declared type's first word, upper-cased (`TEXT`, `BIGINT`, …).
    pub ty: String,
    pub not_null: bool,
    pub kind: Option<Kind>,
    /// The migration that added it.
    pub version: i64,
}

#[derive(Debug, Clone, Default)]
pub struct Table {
    pub columns: Vec<Column>,
}

impl Table {
    pub fn has(&self, column: &str) -> bool {
        self.columns.iter().any(|c| c.name == column)
    }

    pub fn personal(&self) -> impl Iterator<Item = &Column> {
        self.columns.iter().filter(|c| c.kind == Some(Kind::Personal))
    }
}

/// Every table the migrations create, with its columns and their annotations.
#[derive(Debug, Clone, Default)]
pub struct Schema {
    pub tables: BTreeMap<String, Table>,
    /// PERSONAL-DATA lines that name no column (stale or misspelt).
    pub unknown_overrides: Vec<String>,
}

/// Migrations before this carry no annotations of their own.
pub const FIRST_ANNOTATED: i64 = 10;

const PERSONAL_DATA: &str = include_str!("../../../../migrations/cloud/PERSONAL-DATA");

/// The service's schema, from the embedded migrations and PERSONAL-DATA.
pub fn schema() -> &'static Schema {
    static SCHEMA: LazyLock<Schema> = LazyLock::new(|| {
        let migrations: Vec<(i64, String)> = crate::store::migrator().iter().map(|m| (m.version, m.sql.to_string())).collect();
        Schema::read(&migrations, PERSONAL_DATA)
    });
    &SCHEMA
}

fn is_ident(word: &str) -> bool {
    !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Splits `line` into its SQL and its trailing comment.
fn split_comment(line: &str) -> (&str, Option<&str>) {
    match line.find("--") {
        Some(at) => (&line[..at], Some(&line[at + 2..])),
        None => (line, None),
    }
}

impl Schema {
    /// Reads `(version, sql)` migrations in order, then the PERSONAL-DATA overrides.
    pub fn read(migrations: &[(i64, String)], overrides: &str) -> Schema {
        let mut schema = Schema::default();
        for (version, sql) in migrations {
            let mut in_table: Option<String> = None;
            for raw in sql.lines() {
                let (code, comment) = split_comment(raw);
                let code = code.trim();
                let upper = code.to_uppercase();
                let words: Vec<&str> = code.split_whitespace().collect();
                let kind = if *version >= FIRST_ANNOTATED { comment.and_then(Kind::parse) } else { None };
                if let Some(table) = &in_table {
                    if code.starts_with(')') {
                        in_table = None;
                        continue;
                    }
                    let Some(first) = words.first() else { continue };
                    let keyword = first.to_uppercase();
                    if ["PRIMARY", "UNIQUE", "CHECK", "FOREIGN", "CONSTRAINT", "EXCLUDE"].contains(&keyword.as_str()) || !is_ident(first) {
                        continue;
                    }
                    let column = Column {
                        name: first.to_lowercase(),
                        ty: words.get(1).map(|t| t.trim_end_matches(',').to_uppercase()).unwrap_or_default(),
                        not_null: upper.contains("NOT NULL") || upper.contains("PRIMARY KEY"),
                        kind,
                        version: *version,
                    };
                    schema.tables.entry(table.clone()).or_default().columns.push(column);
                    continue;
                }
                if upper.starts_with("CREATE TABLE") {
                    let name = words.iter().skip(2).find(|w| !["IF", "NOT", "EXISTS"].contains(&w.to_uppercase().as_str()));
                    if let Some(name) = name {
                        let name = name.trim_end_matches('(').to_lowercase();
                        schema.tables.entry(name.clone()).or_default();
                        in_table = Some(name);
                    }
                } else if upper.starts_with("ALTER TABLE") && upper.contains(" ADD COLUMN ") {
                    // ALTER TABLE t ADD COLUMN [IF NOT EXISTS] c TYPE …
                    let table = words[2].to_lowercase();
                    let mut rest = words.iter().skip_while(|w| !w.eq_ignore_ascii_case("COLUMN")).skip(1).peekable();
                    while rest.peek().is_some_and(|w| ["IF", "NOT", "EXISTS"].contains(&w.to_uppercase().as_str())) {
                        rest.next();
                    }
                    let Some(name) = rest.next() else { continue };
                    let ty = rest.next().map(|t| t.trim_end_matches(';').to_uppercase()).unwrap_or_default();
                    let column = Column { name: name.to_lowercase(), ty, not_null: upper.contains("NOT NULL"), kind, version: *version };
                    let columns = &mut schema.tables.entry(table).or_default().columns;
                    columns.retain(|c| c.name != column.name);
                    columns.push(column);
                } else if upper.starts_with("ALTER TABLE") && upper.contains(" DROP COLUMN ") {
                    let table = words[2].to_lowercase();
                    if let Some(name) = words.iter().skip_while(|w| !w.eq_ignore_ascii_case("COLUMN")).nth(1) {
                        let name = name.trim_end_matches(';').to_lowercase();
                        if let Some(t) = schema.tables.get_mut(&table) {
                            t.columns.retain(|c| c.name != name);
                        }
                    }
                } else if upper.starts_with("ALTER TABLE") && upper.contains(" RENAME TO ") {
                    // A table rebuilt (new table, copy, drop, rename) takes the old one's name.
                    let (from, to) = (words[2].to_lowercase(), words.last().map(|w| w.trim_end_matches(';').to_lowercase()));
                    if let (Some(table), Some(to)) = (schema.tables.remove(&from), to) {
                        schema.tables.insert(to, table);
                    }
                } else if upper.starts_with("DROP TABLE") {
                    if let Some(name) = words.last() {
                        schema.tables.remove(&name.trim_end_matches(';').to_lowercase());
                    }
                }
            }
        }
        for line in overrides.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (target, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
            let found = target.split_once('.').and_then(|(table, column)| {
                schema.tables.get_mut(table).and_then(|t| t.columns.iter_mut().find(|c| c.name == column))
            });
            match (found, Kind::parse(rest)) {
                (Some(column), Some(kind)) => column.kind = Some(kind),
                _ => schema.unknown_overrides.push(line.to_owned()),
            }
        }
        schema
    }

    /// `table.column` of every column without an annotation.
    pub fn unannotated(&self) -> Vec<String> {
        self.tables
            .iter()
            .flat_map(|(t, table)| table.columns.iter().filter(|c| c.kind.is_none()).map(move |c| format!("{t}.{} (migration {:04})", c.name, c.version)))
            .collect()
    }

    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.get(name)
    }

    /// Tables with at least one column that can hold personal data (or a copy of it).
    pub fn personal_tables(&self) -> impl Iterator<Item = (&String, &Table)> {
        self.tables.iter().filter(|(_, t)| t.columns.iter().any(|c| matches!(c.kind, Some(Kind::Personal | Kind::Copy))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every column of every migration says whether it can hold personal data, and every
    /// PERSONAL-DATA line names a real column.
    #[test]
    fn every_column_is_annotated() {
        let schema = schema();
        assert!(schema.tables.len() > 20, "the migrations were read: {:?}", schema.tables.keys());
        let missing = schema.unannotated();
        assert!(
            missing.is_empty(),
            "columns without `-- personal data` / `-- personal copy` / `-- not personal` \
             (add a trailing comment to a new migration's column, or a line to migrations/cloud/PERSONAL-DATA):\n{}",
            missing.join("\n")
        );
        assert!(schema.unknown_overrides.is_empty(), "PERSONAL-DATA lines naming no column: {:?}", schema.unknown_overrides);
        let customers = schema.table("customers").unwrap();
        assert_eq!(customers.columns.iter().find(|c| c.name == "phone").unwrap().kind, Some(Kind::Personal));
        assert_eq!(customers.columns.iter().find(|c| c.name == "erased_at").unwrap().kind, Some(Kind::NotPersonal));
    }

    #[test]
    fn reads_creates_alters_and_comments() {
        let migrations = vec![
            (1, "CREATE TABLE a (\n  id TEXT PRIMARY KEY,\n  name TEXT NOT NULL, -- personal data\n  PRIMARY KEY (id)\n);".to_owned()),
            (10, "CREATE TABLE b (\n  id TEXT PRIMARY KEY, -- not personal\n  note TEXT -- personal copy of a\n);\nALTER TABLE a ADD COLUMN extra BIGINT; -- Personal data\nALTER TABLE a ADD COLUMN bare TEXT;".to_owned()),
            (11, "ALTER TABLE a DROP COLUMN bare;\nDROP TABLE IF EXISTS gone;".to_owned()),
        ];
        let schema = Schema::read(&migrations, "a.id not personal\na.nothing personal data\n");
        let a = schema.table("a").unwrap();
        assert_eq!(a.columns.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["id", "name", "extra"]);
        assert_eq!(a.columns[0].kind, Some(Kind::NotPersonal));
        // Before 0010 comments do not count: only PERSONAL-DATA does.
        assert_eq!(a.columns[1].kind, None);
        assert!(a.columns[1].not_null);
        assert_eq!(a.columns[2].kind, Some(Kind::Personal));
        assert_eq!(schema.table("b").unwrap().columns[1].kind, Some(Kind::Copy));
        assert_eq!(schema.unannotated(), ["a.name (migration 0001)"]);
        assert_eq!(schema.unknown_overrides, ["a.nothing personal data"]);
    }

    /// A table rebuilt under a new name and renamed back is read as the new table.
    #[test]
    fn reads_a_rebuilt_table() {
        let migrations = vec![
            (10, "CREATE TABLE b (\n  id TEXT PRIMARY KEY, -- not personal\n  note TEXT -- personal copy of a\n);".to_owned()),
            (11, "CREATE TABLE b_new (\n  id TEXT NOT NULL, -- not personal\n  business_id TEXT NOT NULL, -- not personal\n  note TEXT, -- personal data\n  PRIMARY KEY (id, business_id)\n);\nINSERT INTO b_new (id, note) SELECT id, note FROM b;\nDROP TABLE b;\nALTER TABLE b_new RENAME TO b;".to_owned()),
        ];
        let schema = Schema::read(&migrations, "");
        assert!(schema.table("b_new").is_none());
        let b = schema.table("b").unwrap();
        assert_eq!(b.columns.iter().map(|c| (c.name.as_str(), c.kind)).collect::<Vec<_>>(), [("id", Some(Kind::NotPersonal)), ("business_id", Some(Kind::NotPersonal)), ("note", Some(Kind::Personal))]);
        assert_eq!(b.columns[2].version, 11);
    }
}
