//! Statements assembled at run time (filters) with numbered placeholders both engines read, and
//! the opaque keyset cursors lists page with.

use sqlx::Any;

/// Typed values for statements assembled at run time (filters), bound in order.
#[derive(Debug, Clone)]
pub enum Bind {
    Text(String),
    Int(i64),
    Bool(bool),
}

/// Binds `values` in order onto a query.
pub fn bind_all<'q>(
    mut query: sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>,
    values: &'q [Bind],
) -> sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>> {
    for value in values {
        query = match value {
            Bind::Text(v) => query.bind(v.as_str()),
            Bind::Int(v) => query.bind(*v),
            Bind::Bool(v) => query.bind(i64::from(*v)),
        };
    }
    query
}

/// Builds `WHERE`/`AND` clauses with numbered placeholders (`$1`, `$2`, …) that both engines read.
#[derive(Default)]
pub struct Filter {
    clauses: Vec<String>,
    pub binds: Vec<Bind>,
}

impl Filter {
    /// Adds a clause; each `?` in it becomes the next numbered placeholder, bound to `values`.
    pub fn and(&mut self, clause: &str, values: impl IntoIterator<Item = Bind>) -> &mut Self {
        let mut text = String::with_capacity(clause.len() + 4);
        for ch in clause.chars() {
            if ch == '?' {
                text.push_str(&format!("${}", self.binds.len() + 1));
                // Placeholder numbers follow the order values are pushed below.
                self.binds.push(Bind::Int(0));
            } else {
                text.push(ch);
            }
        }
        let start = self.binds.len() - clause.matches('?').count();
        for (slot, value) in (start..).zip(values) {
            self.binds[slot] = value;
        }
        self.clauses.push(text);
        self
    }

    pub fn where_sql(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.clauses.join(" AND "))
        }
    }

    /// The number the next placeholder would get.
    pub fn next_placeholder(&self) -> usize {
        self.binds.len() + 1
    }
}

/// Opaque keyset cursor over `(ms, id)`.
pub mod cursor {
    use base64::Engine as _;

    pub fn encode(ms: i64, id: &str) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{ms}:{id}"))
    }

    pub fn decode(text: &str) -> Option<(i64, String)> {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text).ok()?;
        let text = String::from_utf8(bytes).ok()?;
        let (ms, id) = text.split_once(':')?;
        Some((ms.parse().ok()?, id.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_numbers_placeholders_in_order() {
        let mut f = Filter::default();
        f.and("business_id = ?", [Bind::Text("b".into())]);
        f.and("(at < ? OR (at = ? AND id < ?))", [Bind::Int(5), Bind::Int(5), Bind::Text("x".into())]);
        assert_eq!(f.where_sql(), " WHERE business_id = $1 AND (at < $2 OR (at = $3 AND id < $4))");
        assert_eq!(f.binds.len(), 4);
        assert!(matches!(&f.binds[3], Bind::Text(t) if t == "x"));
        assert_eq!(f.next_placeholder(), 5);
    }

    #[test]
    fn cursor_round_trips_and_rejects_garbage() {
        let c = cursor::encode(1_700_000_000_123, "0190-abc");
        assert_eq!(cursor::decode(&c), Some((1_700_000_000_123, "0190-abc".into())));
        assert_eq!(cursor::decode("not a cursor!"), None);
    }
}
